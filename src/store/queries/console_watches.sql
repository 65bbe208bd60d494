-- Watched orders for the console: only state $1 when given (else the open ones), the most urgent
-- first (overdue and held by when they were found, watching by when they will be), at most $2.
select order_id, customer_id, state, deliver_by, overdue_at, detected_at, update_due_at,
       carrier, tracking_url, overdue_event, updated_at,
       order_data ->> 'number' as order_number,
       (select i.incident_id from incident i
        where i.order_id = w.order_id and i.event_type = 'order.overdue'
        order by i.created_at desc limit 1) as incident_id
from order_watch w
where placed and case when $1::text is null
           then state in ('watching', 'overdue', 'updated', 'held', 'unknown')
           else state = $1 end
order by case state when 'held' then 0 when 'overdue' then 1 when 'updated' then 2
                    when 'watching' then 3 else 4 end,
         coalesce(detected_at, overdue_at) nulls last, order_id
limit $2
