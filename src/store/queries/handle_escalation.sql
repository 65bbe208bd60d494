-- Marks open escalation $1 handled by $2 with note $3; no row when it is not open.
update escalation set status = 'handled', handled_by = $2, note = $3, handled_at = now()
where escalation_id = $1 and status = 'open'
returning escalation_id
