-- Claims up to $3 messages due at $5 (the daemon's clock) for instance $1 for $2 seconds. A short
-- statement, not an open transaction: SKIP LOCKED lets several dispatchers claim disjoint rows
-- at once. $4 lists the channels whose messages are sent again when a crash leaves them in doubt.
-- The lease runs on the database's clock: it measures elapsed time, not the customer's day.
update outbox
set status = 'sending',
    claimed_by = $1,
    claimed_until = now() + make_interval(secs => $2),
    attempts = attempts + 1,
    resend_safe = channel = any($4::text[]),
    send_started_at = null,
    updated_at = now()
where outbox_id in (
    select outbox_id from outbox
    where status = 'pending' and due_at <= $5
    order by due_at
    limit $3
    for update skip locked
)
returning outbox_id, incident_id, channel, recipient, recipient_name, locale, subject, body_text,
          body_html, attempts, quiet_hours, timezone
