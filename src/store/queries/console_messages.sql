-- The messages of incident $1 as they were rendered and sent, with when each is due and why it
-- waits, or why it was cancelled and which incident replaced it.
select outbox_id, channel, recipient, locale, subject, body_text, body_html, status,
       delivery_status, provider, provider_message_id, last_error, attempts, sent_at,
       template_version, standby_for, created_at, due_at, scheduled_reason, cancelled_reason,
       superseded_by,
       (select s.event_type from incident s where s.incident_id = o.superseded_by) as superseded_by_type
from outbox o
where incident_id = $1
order by created_at, channel
