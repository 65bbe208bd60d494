-- Claims up to $3 unpublished outcome events for instance $1 for $2 seconds, oldest first,
-- including events whose earlier claim expired (their publisher died before the confirm).
update outcome_event
set claimed_by = $1,
    claimed_until = now() + make_interval(secs => $2),
    attempts = attempts + 1
where event_id in (
    select event_id from outcome_event
    where status = 'pending' and (claimed_until is null or claimed_until < now())
    order by created_at
    limit $3
    for update skip locked
)
returning event_id, source, event_type, subject, data, created_at, traceparent
