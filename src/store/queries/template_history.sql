-- Every version of template file $1, newest first.
select version, status, author, note, created_at, published_at, body
from template_edit where name = $1 order by version desc
