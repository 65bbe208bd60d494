-- Cancels the messages of incidents $1 that still wait to go out (pending, never attempted) and
-- those held in reserve for them, because incident $2 replaces them; $3 says why. A message a
-- dispatcher claimed meanwhile is no longer pending and goes on: FOR UPDATE (not SKIP LOCKED)
-- waits for a claim under way and then sees it. Returns, for each of $1, how many of its waiting
-- messages were cancelled (those held in reserve aside) and whether any other is on its way or
-- out (the customer heard it).
with waiting as (
    select outbox_id, incident_id from outbox
    where incident_id = any($1::uuid[]) and status = 'pending' and attempts = 0
    for update
), cancelled as (
    update outbox o
    set status = 'cancelled', cancelled_reason = $3, superseded_by = $2, updated_at = now()
    where o.outbox_id in (select outbox_id from waiting)
       or (o.status = 'standby' and o.standby_for in (select outbox_id from waiting))
    returning o.outbox_id, o.incident_id
)
-- The reads below see the rows as they were before the update: the cancelled ones are left out
-- by id.
select p.incident_id as "incident_id!",
       (select count(*) from waiting w where w.incident_id = p.incident_id) as "cancelled!",
       exists (select 1 from outbox o
               where o.incident_id = p.incident_id and o.status <> 'cancelled'
                 and o.outbox_id not in (select outbox_id from cancelled)) as "heard!"
from unnest($1::uuid[]) as p(incident_id)
