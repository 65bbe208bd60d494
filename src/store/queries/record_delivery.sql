-- Records one provider event and, when it names a message we sent, that message's latest
-- delivery status. The message is found by our outbox id when the provider echoes it ($1),
-- else by the provider's id for it ($3). An event whose provider event id ($9) was already
-- recorded changes nothing: no row, no status, no outcome event ("inserted" is 0).
-- The status moves only forward: it is overwritten only by a status of higher rank ($10, see
-- store::delivery::status_rank), or of the same rank that did not happen earlier ($7). The
-- comparison sits in the update's own condition, so two replicas recording events of one
-- message at once cannot undo each other (PostgreSQL re-checks it on the locked row).
-- A message handed over as sent that the provider then reports as not delivered for good
-- (bounced, failed, ...) is announced as notification.failed.
with target as (
    select outbox_id from outbox
     where ($1::uuid is not null and outbox_id = $1)
        or ($1::uuid is null and $3::text is not null and provider_message_id = $3)
     limit 1
), event as (
    insert into delivery_event (outbox_id, provider, provider_message_id, provider_event_id,
                                status, detail, payload, occurred_at)
    select (select outbox_id from target), $2, $3, $9, $4, $5, cast($6::text as jsonb), $7
    on conflict (provider, provider_event_id) do nothing
    returning outbox_id
), updated as (
    update outbox o set delivery_status = $4, delivery_rank = $10, delivery_occurred_at = $7,
                        delivery_updated_at = now()
     from target t
     where o.outbox_id = t.outbox_id
       and exists (select 1 from event)
       and (o.delivery_rank is null
            or $10::smallint > o.delivery_rank
            or ($10::smallint = o.delivery_rank
                and ($7::timestamptz is null or o.delivery_occurred_at is null
                     or $7::timestamptz >= o.delivery_occurred_at)))
    returning o.outbox_id
), announced as (
    -- No contact details, as for every outcome event.
    insert into outcome_event (event_id, source, event_type, subject, data)
    select gen_random_uuid(), $8, 'notification.failed', o.outbox_id::text,
           jsonb_build_object(
               'notification_id', o.outbox_id,
               'incident', jsonb_build_object('source', i.source, 'id', i.event_id, 'type', i.event_type),
               'order_id', i.order_id,
               'customer_id', i.customer_id,
               'channel', o.channel,
               'provider', $2::text,
               'provider_message_id', o.provider_message_id,
               'delivery_status', $4::text,
               'error', $5::text)
    from target t
    join outbox o on o.outbox_id = t.outbox_id
    join incident i on i.incident_id = o.incident_id
    where exists (select 1 from event)
      and o.status = 'sent'
      and $4::text in ('bounced', 'failed', 'undelivered', 'dropped', 'blocked', 'expired', 'rejected')
      -- Once per message: a provider may report the same failure more than once. (Every part of
      -- this statement sees the row as it was before it, so this is the status before this event.)
      and (o.delivery_status is null
           or o.delivery_status not in ('bounced', 'failed', 'undelivered', 'dropped', 'blocked', 'expired', 'rejected'))
    returning event_id
)
select (select outbox_id from target) as outbox_id,
       (select count(*) from event) as "inserted!",
       (select count(*) from announced) as "announced!"
