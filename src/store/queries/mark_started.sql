-- Marks messages $2, claimed by instance $1, as having a request on its way to a provider; runs
-- just before the request leaves. Fenced by the claim: a message missing from the result was
-- taken back (its lease expired) and must not be sent by this instance.
update outbox
set send_started_at = coalesce(send_started_at, now())
where outbox_id = any($2::uuid[]) and claimed_by = $1 and status = 'sending'
returning outbox_id
