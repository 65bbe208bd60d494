-- The text of version $2 of template file $1.
select body from template_edit where name = $1 and version = $2
