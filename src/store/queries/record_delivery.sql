-- Records one provider event and, when it names a message we sent, that message's latest
-- delivery status. The message is found by our outbox id when the provider echoes it ($1),
-- else by the provider's id for it ($3).
with target as (
    select outbox_id from outbox
     where ($1::uuid is not null and outbox_id = $1)
        or ($1::uuid is null and $3::text is not null and provider_message_id = $3)
     limit 1
), event as (
    insert into delivery_event (outbox_id, provider, provider_message_id, status, detail, payload, occurred_at)
    select (select outbox_id from target), $2, $3, $4, $5, cast($6::text as jsonb), $7
    returning outbox_id
), updated as (
    update outbox o set delivery_status = $4, delivery_updated_at = now()
     from target t where o.outbox_id = t.outbox_id
    returning o.outbox_id
)
select (select outbox_id from target) as outbox_id
