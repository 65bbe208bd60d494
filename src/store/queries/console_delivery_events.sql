-- Every status a provider reported for the messages of incident $1.
select e.outbox_id as "outbox_id!", e.provider, e.status, e.detail, e.occurred_at, e.created_at
from delivery_event e
join outbox o using (outbox_id)
where o.incident_id = $1
order by e.created_at, e.delivery_event_id
