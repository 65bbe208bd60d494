-- Takes lease $1 for holder $2 until $3 seconds from now (the database's clock), or renews it:
-- a row when $2 holds it now, none when another holder's lease still runs.
insert into lease as l (name, holder, expires_at)
values ($1, $2, now() + make_interval(secs => $3))
on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
where l.holder = excluded.holder or l.expires_at < now()
returning holder
