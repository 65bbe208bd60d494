-- The published version of every edited template file.
select name, version, body from template_edit where status = 'published' order by name
