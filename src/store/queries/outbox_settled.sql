-- The settled messages (sent, failed, cancelled) by channel and status: a count over most of the
-- table, so it is refreshed less often than the backlog.
select channel as "channel!", status as "status!", count(*) as "messages!"
from outbox
where status in ('sent', 'failed', 'cancelled')
group by channel, status
