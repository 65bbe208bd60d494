-- Version $2 of template file $1, with its text.
select version, status, author, note, created_at, published_at, body
from template_edit where name = $1 and version = $2
