-- Counts one more overdue order held on day $1; returns how many are held that day, this one
-- included (the first carries the summary for a person).
insert into overdue_day as d (day, held) values ($1, 1)
on conflict (day) do update set held = d.held + 1
returning held
