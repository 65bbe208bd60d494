-- Open watches (orders placed with a promise) by state (closed ones are most of the table and are not counted).
select state, count(*) as "orders!"
from order_watch
where placed and state in ('watching', 'overdue', 'updated', 'held', 'unknown')
group by state
