-- Reserves $3 from the global budget of day $1 in currency $2, only if the day's total stays
-- within $4; returns the day's new total. One autocommitted statement: the day's row is locked
-- only while it runs, so reservations of concurrent replicas queue for an instant, never for a
-- whole incident, and each sees the others' totals: no two can overspend together. No row
-- returned = over budget. (The caller checks that $3 alone fits $4, for the day's first
-- reservation.)
insert into budget_day (day, currency, spent)
values ($1, $2, cast($3::text as numeric))
on conflict on constraint budget_day_pkey do update
    set spent = budget_day.spent + excluded.spent,
        updated_at = now()
    where budget_day.spent + excluded.spent <= cast($4::text as numeric)
returning spent::text as "spent!"
