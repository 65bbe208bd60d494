-- Records the outcomes of a batch of sends by instance $1 and one attempt row each, in one
-- statement (one commit for the whole batch). Each row is fenced by the claim: a message whose
-- claim was lost is left alone and missing from the result.
-- outcome: 'sent' | 'retry' (back to pending after retry_after seconds) | 'failed' | 'unknown'.
with results as (
    select *
    from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[],
                $8::timestamptz[])
        as r(outbox_id, provider, provider_message_id, outcome, error, retry_after, started_at)
), updated as (
    update outbox o
    set status = case r.outcome when 'sent' then 'sent' when 'retry' then 'pending' else r.outcome end,
        due_at = case r.outcome when 'retry' then now() + make_interval(secs => r.retry_after) else o.due_at end,
        sent_at = case r.outcome when 'sent' then now() else o.sent_at end,
        provider = r.provider,
        provider_message_id = coalesce(r.provider_message_id, o.provider_message_id),
        last_error = r.error,
        claimed_by = null,
        claimed_until = null,
        updated_at = now()
    from results r
    where o.outbox_id = r.outbox_id and o.claimed_by = $1 and o.status = 'sending'
    returning o.outbox_id, o.attempts
)
insert into attempt (outbox_id, number, provider, instance, outcome, error, started_at)
select u.outbox_id, u.attempts, r.provider, $1, r.outcome, r.error, r.started_at
from updated u join results r using (outbox_id)
returning outbox_id
