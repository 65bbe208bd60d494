-- Lifts a contact's suppression on a channel (SMS START, or a person's decision); true when one
-- was in force.
update suppression set lifted_at = now(), updated_at = now(), source = $3
 where channel = $1 and contact = $2 and lifted_at is null
returning channel
