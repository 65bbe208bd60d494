-- Sets the draft of template file $1 aside (kept in the history as discarded).
update template_edit set status = 'discarded' where name = $1 and status = 'draft'
