-- Counts for the console's front page: today is since midnight UTC.
select
    (select count(*) from incident where created_at >= date_trunc('day', now())) as "incidents_today!",
    (select count(*) from outbox where status = 'sent' and sent_at >= date_trunc('day', now())) as "messages_sent_today!",
    (select count(*) from outbox where status = 'failed') as "messages_failed!",
    (select count(*) from outbox where status = 'unknown') as "messages_unknown!",
    (select count(*) from escalation where status = 'open') as "open_escalations!"
