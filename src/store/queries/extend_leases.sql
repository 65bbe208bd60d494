-- Extends instance $1's claims on messages $2 (still being sent, or sent and not yet recorded) by
-- $3 seconds from now, so a slow provider or a wait for the rate limiter never lets the reaper
-- take back a message that is being handled. Returns the claims still held.
update outbox
set claimed_until = now() + make_interval(secs => $3)
where outbox_id = any($2::uuid[]) and claimed_by = $1 and status = 'sending'
returning outbox_id
