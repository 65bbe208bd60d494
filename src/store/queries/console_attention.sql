-- Messages with status $1 (failed or unknown), newest first, at most $2, with their incident.
select o.outbox_id, o.incident_id, o.channel, o.recipient, o.status, o.provider, o.last_error,
       o.attempts, o.updated_at, i.order_id, i.customer_id, i.event_type
from outbox o
join incident i using (incident_id)
where o.status = $1 and o.status in ('failed', 'unknown')
order by o.updated_at desc
limit $2
