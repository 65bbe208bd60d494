-- Puts a contact on the suppression list for a channel (again, if it had been lifted).
insert into suppression (channel, contact, reason, source, detail)
values ($1, $2, $3, $4, $5)
on conflict on constraint suppression_pkey do update
   set reason = excluded.reason, source = excluded.source, detail = excluded.detail,
       lifted_at = null, updated_at = now()
