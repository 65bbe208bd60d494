-- The compensation ledger, newest first: the last $1 entries, or only those of incident $2.
select compensation_id, created_at, incident_id, order_id, customer_id, rule, kind, status, code,
       round(amount, 2)::text as amount, trim_scale(percent)::text as percent, currency,
       round(cost, 2)::text as "cost!",
       expires_at, reason
from compensation
where $2::uuid is null or incident_id = $2
order by created_at desc, compensation_id
limit $1
