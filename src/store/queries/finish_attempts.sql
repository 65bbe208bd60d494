-- Records the outcomes of a batch of sends by instance $1, one attempt row each, and the outcome
-- event of each final outcome, in one statement (one commit for the whole batch). Each row is
-- fenced by the claim: a message whose claim was lost is left alone and missing from the result.
-- outcome: 'sent' | 'retry' (back to pending, due again at due_at) | 'failed' | 'unknown' |
-- 'released' (handed back before any request left, e.g. at shutdown: due again at due_at, and
-- the claim does not count as an attempt) | 'held' (claimed in the customer's quiet hours, nothing
-- sent: like 'released', due when they end, and error says why it waits). Due times are the
-- daemon's clock's ($9 is its now).
-- A message held in reserve for one that failed goes out now; for one that was sent, it is
-- cancelled. After 'unknown' it stays in reserve: the first may have reached the customer.
with results as (
    select *
    from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                $8::timestamptz[])
        as r(outbox_id, provider, provider_message_id, outcome, error, due_at, started_at)
), updated as (
    update outbox o
    set status = case when r.outcome = 'sent' then 'sent'
                      when r.outcome in ('retry', 'released', 'held') then 'pending'
                      else r.outcome end,
        due_at = case when r.outcome in ('retry', 'released', 'held')
                      then coalesce(r.due_at, $9) else o.due_at end,
        attempts = case when r.outcome in ('released', 'held') then greatest(o.attempts - 1, 0)
                        else o.attempts end,
        send_started_at = null,
        sent_at = case r.outcome when 'sent' then now() else o.sent_at end,
        provider = case when r.outcome in ('released', 'held') then o.provider else r.provider end,
        provider_message_id = coalesce(r.provider_message_id, o.provider_message_id),
        last_error = case when r.outcome in ('released', 'held') then o.last_error else r.error end,
        scheduled_reason = case r.outcome when 'held' then r.error else o.scheduled_reason end,
        claimed_by = null,
        claimed_until = null,
        updated_at = now()
    from results r
    where o.outbox_id = r.outbox_id and o.claimed_by = $1 and o.status = 'sending'
    returning o.outbox_id, o.incident_id, o.channel, o.attempts, o.provider_message_id, o.sent_at
), standby as (
    update outbox s
    set status = case r.outcome when 'failed' then 'pending' else 'cancelled' end,
        -- Due now; what it was scheduled for when recorded no longer applies (the dispatcher
        -- checks the quiet hours again when it claims it).
        due_at = $9,
        scheduled_reason = null,
        updated_at = now()
    from updated u join results r using (outbox_id)
    where s.standby_for = u.outbox_id and s.status = 'standby' and r.outcome in ('sent', 'failed')
    returning s.outbox_id
), attempted as (
    insert into attempt (outbox_id, number, provider, instance, outcome, error, started_at)
    select u.outbox_id, u.attempts, r.provider, $1, r.outcome, r.error, r.started_at
    from updated u join results r using (outbox_id)
    where r.outcome not in ('released', 'held')
    returning outbox_id
), announced as (
    -- No contact details: the event says what happened to which order, not to whom.
    insert into outcome_event (event_id, source, event_type, subject, data, traceparent)
    select gen_random_uuid(), $1,
           case r.outcome when 'sent' then 'notification.sent' else 'notification.failed' end,
           u.outbox_id::text,
           jsonb_build_object(
               'notification_id', u.outbox_id,
               'incident', jsonb_build_object('source', i.source, 'id', i.event_id, 'type', i.event_type),
               'order_id', i.order_id,
               'customer_id', i.customer_id,
               'channel', u.channel,
               'provider', r.provider,
               'provider_message_id', u.provider_message_id,
               'attempts', u.attempts,
               'sent_at', u.sent_at,
               'error', r.error),
           i.traceparent
    from updated u
    join results r using (outbox_id)
    join incident i on i.incident_id = u.incident_id
    where r.outcome in ('sent', 'failed')
    returning event_id
)
select outbox_id as "outbox_id!" from updated
