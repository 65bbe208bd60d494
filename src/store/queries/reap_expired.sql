-- Takes back messages whose claim expired (their dispatcher died or hung). Where a second send
-- cannot reach the customer twice the message goes back to pending; elsewhere it becomes
-- 'unknown' for a human, never silently sent again.
with expired as (
    select outbox_id, claimed_by, attempts, resend_safe, provider
    from outbox
    where status = 'sending' and claimed_until < now()
    for update skip locked
), reaped as (
    update outbox o
    set status = case when e.resend_safe then 'pending' else 'unknown' end,
        claimed_by = null,
        claimed_until = null,
        last_error = 'claim expired before the send reported back',
        updated_at = now()
    from expired e
    where o.outbox_id = e.outbox_id
    returning o.outbox_id
)
insert into attempt (outbox_id, number, provider, instance, outcome, error, started_at)
select e.outbox_id, e.attempts, coalesce(e.provider, 'unknown'), coalesce(e.claimed_by, 'unknown'),
       'lease_expired', 'claim expired before the send reported back', now()
from expired e
returning outbox_id
