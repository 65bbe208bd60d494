-- Retires the published version of template file $1, if there is one.
update template_edit set status = 'retired' where name = $1 and status = 'published'
