-- The messages not yet settled (pending, sending, unknown, standby) by channel and status, at $1
-- (the daemon's clock): how many, how many of the pending ones are due and how many wait for
-- later, and the oldest due time of those due and not yet sent (pending or being sent). Reads
-- only outbox_open_idx's rows, however many messages were sent before.
select channel as "channel!",
       status as "status!",
       count(*) as "messages!",
       count(*) filter (where status = 'pending' and due_at <= $1) as "due!",
       count(*) filter (where status = 'pending' and due_at > $1) as "scheduled!",
       min(due_at) filter (where status in ('pending', 'sending') and due_at <= $1) as oldest_due
from outbox
where status in ('pending', 'sending', 'unknown', 'standby')
group by channel, status
