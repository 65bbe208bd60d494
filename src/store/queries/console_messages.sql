-- The messages of incident $1 as they were rendered and sent.
select outbox_id, channel, recipient, locale, subject, body_text, body_html, status,
       delivery_status, provider, provider_message_id, last_error, attempts, sent_at,
       template_version, standby_for, created_at
from outbox
where incident_id = $1
order by created_at, channel
