-- What was spent from the global budget of day $1 in currency $2.
select coalesce((select spent from budget_day where day = $1 and currency = $2), 0)::text as "spent!"
