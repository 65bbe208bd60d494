-- Records the outcome of one send and the attempt row, fenced by the claim: zero rows means the
-- lease was lost and another dispatcher owns the message now.
-- $5 outcome: 'sent' | 'retry' (back to pending after $7 seconds) | 'failed' | 'unknown'.
with updated as (
    update outbox
    set status = case $5::text when 'sent' then 'sent' when 'retry' then 'pending' else $5::text end,
        due_at = case $5::text when 'retry' then now() + make_interval(secs => $7) else due_at end,
        sent_at = case $5::text when 'sent' then now() else sent_at end,
        provider = $3,
        provider_message_id = coalesce($4, provider_message_id),
        last_error = $6,
        claimed_by = null,
        claimed_until = null,
        updated_at = now()
    where outbox_id = $1 and claimed_by = $2 and status = 'sending'
    returning outbox_id, attempts
)
insert into attempt (outbox_id, number, provider, instance, outcome, error, started_at)
select outbox_id, attempts, $3, $2, $5, $6, $8 from updated
returning outbox_id
