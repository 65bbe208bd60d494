-- Orders whose promise passed by $1 and that are not raised yet.
select count(*) as "orders!" from order_watch where state = 'watching' and placed and overdue_at <= $1
