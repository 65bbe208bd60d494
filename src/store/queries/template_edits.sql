-- For every edited template file: its published version, its draft, and when it last changed.
select name, max(version) filter (where status = 'published') as published_version,
       max(version) filter (where status = 'draft') as draft_version,
       max(coalesce(published_at, created_at)) as "updated_at!"
from template_edit
group by name
order by name
