-- Records what the watcher did for order $1, if its watch is still as it was read (state $2,
-- promise $3): now state $4, detected at $5, update due at $6 (or none), with the incident raised
-- ($7). When $8 is given, order.overdue_detected is queued with it as data (source $9, trace $10),
-- in the same statement.
with marked as (
    update order_watch
    set state = $4, detected_at = coalesce(detected_at, $5), update_due_at = $6,
        overdue_event = $7, updated_at = now()
    where order_id = $1 and state = $2 and deliver_by = $3
    returning order_id
), announced as (
    insert into outcome_event (event_id, source, event_type, subject, data, traceparent)
    select gen_random_uuid(), $9, 'order.overdue_detected', m.order_id, $8::jsonb, $10
    from marked m
    where $8::jsonb is not null
    returning event_id
)
select (select count(*) from marked) as "marked!", (select count(*) from announced) as "announced!"
