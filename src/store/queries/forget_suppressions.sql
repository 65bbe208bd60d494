-- Replaces the contacts ($1 channels, $2 contacts) on the suppression list by their keyed hash,
-- so the suppressions keep holding without the contact. A suppression in force whose hashed twin
-- is already in force (the customer was forgotten before) is dropped instead: the twin holds.
with pairs as (
    select * from unnest($1::text[], $2::text[]) as p(channel, contact)
), twins as (
    delete from suppression s
    using pairs p
    where s.channel = p.channel and s.contact = p.contact and s.lifted_at is null
      and exists (select 1 from suppression t
                  where t.channel = s.channel and t.contact = amends_forgotten(p.channel, p.contact)
                    and t.source = s.source and t.reason = s.reason and t.lifted_at is null)
    returning s.suppression_id
), hashed as (
    update suppression s
    set contact = amends_forgotten(s.channel, s.contact), updated_at = now()
    from pairs p
    where s.channel = p.channel and s.contact = p.contact
      and s.suppression_id not in (select suppression_id from twins)
    returning s.suppression_id
)
select (select count(*) from twins) + (select count(*) from hashed) as "suppressions!"
