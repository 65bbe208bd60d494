-- Takes one of day $1's $2 automatic overdue messages: a row while the cap is not reached.
insert into overdue_day as d (day, messaged) values ($1, 1)
on conflict (day) do update set messaged = d.messaged + 1
where d.messaged < $2
returning messaged
