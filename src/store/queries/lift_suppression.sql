-- Lifts a contact's suppressions on a channel, recording $3 as who lifted them. A person ($4
-- null) lifts every one in force; a provider ($4) lifts only its own, for reason $5, and never a
-- person's: an opt-in undoes only the opt-out it answers. A forgotten customer's suppression,
-- kept as the hash of the contact, is lifted the same way. The ids of the rows lifted.
update suppression set lifted_at = now(), updated_at = now(), lifted_by = $3
 where channel = $1 and contact in ($2, amends_forgotten($1, $2)) and lifted_at is null
   and ($4::text is null or (source = $4 and reason = $5 and reason <> 'manual'))
returning suppression_id
