-- Takes back messages whose claim expired (their dispatcher died or hung), except $1, the
-- messages the calling dispatcher is handling itself; one due again is due at $2, the daemon's
-- clock's now (the lease itself runs on the database's clock).
-- - The request never left (send_started_at is null): the message is simply due again, and the
--   claim does not count as an attempt.
-- - The request may have reached the provider: the message is in doubt. Where resend_safe (the
--   channel's rule: email by default, with the same Message-ID) it is due again; elsewhere it
--   becomes 'unknown' for a person, never silently sent twice. Either way an attempt row says so.
with expired as (
    select outbox_id, claimed_by, attempts, resend_safe, provider, send_started_at
    from outbox
    where status = 'sending' and claimed_until < now() and not (outbox_id = any($1::uuid[]))
    for update skip locked
), reaped as (
    update outbox o
    set status = case when e.send_started_at is null or e.resend_safe then 'pending' else 'unknown' end,
        attempts = case when e.send_started_at is null then greatest(o.attempts - 1, 0) else o.attempts end,
        due_at = case when e.send_started_at is null or e.resend_safe then $2 else o.due_at end,
        claimed_by = null,
        claimed_until = null,
        send_started_at = null,
        last_error = case
            when e.send_started_at is null then o.last_error
            when e.resend_safe then 'in doubt: the dispatcher stopped after the request left; sent again'
            else 'in doubt: the dispatcher stopped after the request left; not sent again'
        end,
        updated_at = now()
    from expired e
    where o.outbox_id = e.outbox_id
    returning o.outbox_id
), attempted as (
    insert into attempt (outbox_id, number, provider, instance, outcome, error, started_at)
    select e.outbox_id, e.attempts, coalesce(e.provider, 'unknown'), coalesce(e.claimed_by, 'unknown'),
           'lease_expired',
           case when e.resend_safe
                then 'in doubt: the dispatcher stopped after the request left; sent again'
                else 'in doubt: the dispatcher stopped after the request left; not sent again' end,
           e.send_started_at
    from expired e
    where e.send_started_at is not null
)
select e.outbox_id as "outbox_id!",
       case when e.send_started_at is null then 'released'
            when e.resend_safe then 'resent'
            else 'unknown' end as "fate!"
from expired e
