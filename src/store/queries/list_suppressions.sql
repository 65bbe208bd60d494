-- The suppressions in force, newest first, at most $1; a contact suppressed by several authors
-- or for several reasons has one row for each.
select channel, contact, reason, source, detail, updated_at
from suppression
where lifted_at is null
order by updated_at desc, suppression_id desc
limit $1
