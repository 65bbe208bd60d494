-- Up to $2 incidents created before $1 whose personal data is not yet erased, oldest first,
-- locked; those another transaction holds are left for the next run.
select incident_id from incident
where created_at < $1 and erased_at is null
order by created_at
limit $2
for update skip locked
