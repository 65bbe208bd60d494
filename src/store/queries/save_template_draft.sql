-- Saves text $2 as the draft of template file $1, by $3 with note $4: a new version, or the
-- file's existing draft with its text replaced. The draft's version number.
insert into template_edit (name, version, body, status, author, note)
select $1, coalesce(max(version), 0) + 1, $2, 'draft', $3, $4
from template_edit where name = $1
on conflict (name) where status = 'draft'
do update set body = excluded.body, author = excluded.author, note = excluded.note,
              created_at = now()
returning version
