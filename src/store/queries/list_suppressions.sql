-- The suppressions in force, newest first, at most $1.
select channel, contact, reason, source, detail, updated_at
from suppression
where lifted_at is null
order by updated_at desc
limit $1
