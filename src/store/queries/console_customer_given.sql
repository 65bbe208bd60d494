-- The $2 customers given the most since $1 (the per-customer window), per currency.
select customer_id, currency, round(sum(cost), 2)::text as "given!"
from compensation
where status = 'issued' and created_at > $1
group by customer_id, currency
order by sum(cost) desc, customer_id
limit $2
