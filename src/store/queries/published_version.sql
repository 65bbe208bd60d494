-- The version of template file $1 in force, if one is published.
select version from template_edit where name = $1 and status = 'published'
