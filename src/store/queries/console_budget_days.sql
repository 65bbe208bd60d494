-- What was spent on the last $1 budget days, per currency, newest first.
select day, currency, round(spent, 2)::text as "spent!"
from budget_day
where day > current_date - $1::int
order by day desc, currency
