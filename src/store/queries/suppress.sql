-- Puts a contact on the suppression list for a channel, as $4 (a provider, or the person) for
-- reason $3. The same author's suppression for the same reason, already in force, is only
-- refreshed; others stand beside it.
insert into suppression (channel, contact, reason, source, detail)
values ($1, $2, $3, $4, $5)
on conflict (channel, contact, source, reason) where lifted_at is null do update
   set detail = excluded.detail, updated_at = now()
