-- Returns $3, reserved from the global budget of day $1 in currency $2 and not given, to the day.
update budget_day
set spent = greatest(spent - cast($3::text as numeric), 0),
    updated_at = now()
where day = $1 and currency = $2
