-- Claims up to $3 messages due at $5 (the daemon's clock) for instance $1 for $2 seconds. A short
-- statement, not an open transaction: SKIP LOCKED lets several dispatchers claim disjoint rows
-- at once. $4 lists the channels whose messages are sent again when a crash leaves them in doubt.
-- The lease runs on the database's clock: it measures elapsed time, not the customer's day.
--
-- A message whose recipient was suppressed after it was decided (a STOP or a complaint that
-- arrived while it waited, e.g. through the customer's night) is not sent: it is cancelled, and
-- the message held in reserve for it on another channel, if any, becomes due instead. Only the
-- rows this claim would take are looked at, so a long backlog costs nothing extra.
with candidates as (
    select outbox_id, channel, recipient from outbox
    where status = 'pending' and due_at <= $5
    order by due_at
    limit $3
    for update skip locked
), blocked as (
    select c.outbox_id from candidates c
    cross join lateral (
        select case c.channel when 'email' then lower(btrim(c.recipient))
                              else btrim(c.recipient) end as contact) k
    where exists (
        select 1 from suppression s
        where s.lifted_at is null and s.channel = c.channel
          -- A forgotten customer's suppression is kept as the hash of the contact.
          and s.contact in (k.contact, amends_forgotten(c.channel, k.contact)))
), cancelled as (
    update outbox o
    set status = 'cancelled',
        cancelled_reason = 'the recipient was suppressed before it went out',
        updated_at = now()
    where o.outbox_id in (select outbox_id from blocked)
    returning o.outbox_id
), standby as (
    -- Due now, on the other channel: the dispatcher checks its quiet hours when it claims it.
    update outbox s
    set status = 'pending', due_at = $5, scheduled_reason = null, updated_at = now()
    where s.standby_for in (select outbox_id from cancelled) and s.status = 'standby'
    returning s.outbox_id
)
update outbox
set status = 'sending',
    claimed_by = $1,
    claimed_until = now() + make_interval(secs => $2),
    attempts = attempts + 1,
    resend_safe = channel = any($4::text[]),
    send_started_at = null,
    updated_at = now()
where outbox_id in (select outbox_id from candidates)
  and outbox_id not in (select outbox_id from blocked)
returning outbox_id, incident_id, channel, recipient, recipient_name, locale, subject, body_text,
          body_html, attempts, quiet_hours, timezone,
          -- The trace of the incident, so the send's span joins it.
          (select i.traceparent from incident i where i.incident_id = outbox.incident_id) as traceparent
