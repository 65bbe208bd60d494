-- Messages per status, for metrics and readiness.
select status as "status!", count(*) as "count!" from outbox group by status
