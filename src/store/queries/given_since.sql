-- Compensation issued since $1, per currency: what the day's budget has given (its reservations
-- in budget_day include chunks replicas hold and have not given yet).
select currency as "currency!", coalesce(sum(cost), 0)::float8 as "given!"
from compensation
where status = 'issued' and created_at >= $1
group by currency
