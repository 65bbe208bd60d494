-- Publishes the draft of template file $1 with its final text $2, by $3 with note $4, and tells
-- every replica to reload. It keeps its number unless a later version was published meanwhile.
-- Run after retire_template.sql in the same transaction; no row when the file has no draft.
update template_edit
set status = 'published', body = $2, author = $3, note = $4, published_at = now(),
    version = case when version = (select max(version) from template_edit where name = $1)
                   then version
                   else (select max(version) + 1 from template_edit where name = $1) end
where name = $1 and status = 'draft'
returning version, pg_notify('amends_templates', $1)::text as notified
