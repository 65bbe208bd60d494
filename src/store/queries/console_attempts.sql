-- Every delivery attempt for the messages of incident $1.
select a.outbox_id, a.number, a.provider, a.outcome, a.error, a.started_at, a.finished_at
from attempt a
join outbox o using (outbox_id)
where o.incident_id = $1
order by a.outbox_id, a.number, a.attempt_id
