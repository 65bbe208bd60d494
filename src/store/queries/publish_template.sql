-- Publishes version (latest + 1) of template file $1 with text $2, by $3, with note $4, and tells
-- every replica to reload. Run after retire_template.sql in the same transaction.
insert into template_edit (name, version, body, status, author, note, published_at)
select $1, coalesce(max(version), 0) + 1, $2, 'published', $3, $4, now()
from template_edit where name = $1
returning version, pg_notify('amends_templates', $1)::text as notified
