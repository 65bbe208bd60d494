-- Marks events the broker confirmed as published, fenced by instance $2's claim.
update outcome_event
set status = 'published', published_at = now(), claimed_by = null, claimed_until = null
where event_id = any($1) and claimed_by = $2 and status = 'pending'
