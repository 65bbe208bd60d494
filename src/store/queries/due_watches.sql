-- Orders whose promise passed by $1 with no word ('watching', overdue_at reached), then those whose
-- promised update is due ('overdue', update_due_at reached); the longest waiting first, at most $2.
(select order_id, customer_id, order_data, customer_data, deliver_by as "deliver_by!",
        overdue_at as "overdue_at!", carrier, tracking_url, state, detected_at
 from order_watch
 where state = 'watching' and placed and overdue_at <= $1
 order by overdue_at
 limit $2)
union all
(select order_id, customer_id, order_data, customer_data, deliver_by, overdue_at, carrier,
        tracking_url, state, detected_at
 from order_watch
 where state = 'overdue' and placed and update_due_at <= $1 and deliver_by is not null and overdue_at is not null
 order by update_due_at
 limit $2)
