-- The audit record, newest first: at most $4 entries, older than entry $1 when given, of one
-- actor ($2, any case) and one action ($3) when given.
select id, actor, action, subject, detail, client_address, created_at
from audit
where ($1::bigint is null or id < $1)
  and ($2::text is null or lower(actor) = lower($2))
  and ($3::text is null or action = $3)
order by id desc
limit $4
