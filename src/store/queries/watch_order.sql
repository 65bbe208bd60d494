-- Applies one event to order $1's watch (only an order whose order.placed was seen is watched;
-- what other events say of an order not yet placed is kept for when it is) (customer $2, the event as received in $3): $4 says how
-- ('promise': the promised day is now $5, overdue at $6, unless the order is closed; 'fill': the
-- same only when no day is known yet (order.placed, which may arrive after later news);
-- 'unknown': no date to watch; 'delivered', 'cancelled': closed for good; 'touch': data only).
-- A promise that moves ends an overdue episode: a pending update is not sent. $7, $8: carrier and
-- tracking page, when the event names them.
insert into order_watch as w (order_id, customer_id, order_data, customer_data, deliver_by,
                              overdue_at, carrier, tracking_url, state, placed)
values ($1, $2, $3::text::jsonb -> 'data' -> 'order', $3::text::jsonb -> 'data' -> 'customer',
        case when $4 in ('promise', 'fill') then $5::date end,
        case when $4 in ('promise', 'fill') then $6::timestamptz end,
        $7, $8,
        case when $4 in ('promise', 'fill') and $5::date is not null then 'watching'
             when $4 in ('delivered', 'cancelled') then $4
             else 'unknown' end,
        $4 = 'fill')
on conflict (order_id) do update set
    placed = w.placed or excluded.placed,
    customer_id = excluded.customer_id,
    order_data = excluded.order_data,
    customer_data = excluded.customer_data,
    carrier = coalesce(excluded.carrier, w.carrier),
    tracking_url = coalesce(excluded.tracking_url, w.tracking_url),
    deliver_by = case
        when w.state in ('delivered', 'cancelled') then w.deliver_by
        when $4 = 'promise' or ($4 = 'fill' and w.deliver_by is null) then excluded.deliver_by
        when $4 = 'unknown' then null
        else w.deliver_by end,
    overdue_at = case
        when w.state in ('delivered', 'cancelled') then w.overdue_at
        when $4 = 'promise' or ($4 = 'fill' and w.deliver_by is null) then excluded.overdue_at
        when $4 = 'unknown' then null
        when $4 in ('delivered', 'cancelled') then null
        else w.overdue_at end,
    state = case
        when w.state in ('delivered', 'cancelled') then w.state
        when $4 in ('delivered', 'cancelled') then $4
        when $4 = 'unknown' then 'unknown'
        when ($4 = 'promise' and excluded.deliver_by is distinct from w.deliver_by)
          or ($4 = 'fill' and w.deliver_by is null) then excluded.state
        else w.state end,
    update_due_at = case
        when w.state in ('delivered', 'cancelled') then w.update_due_at
        when $4 in ('delivered', 'cancelled', 'unknown') then null
        when $4 = 'promise' and excluded.deliver_by is distinct from w.deliver_by then null
        else w.update_due_at end,
    updated_at = now()
