-- Records an incident, its decision and its outbox rows in one statement (one implicit transaction).
-- A duplicate (source, id) inserts nothing at all: every later step selects from the first.
with inserted as (
    insert into incident (incident_id, source, event_id, event_type, order_id, customer_id, payload, occurred_at)
    values ($1, $2, $3, $4, $5, $6, cast($7::text as jsonb), $8)
    on conflict on constraint incident_source_event_id_key do nothing
    returning incident_id
), decided as (
    insert into decision (incident_id, rule, template, channels, skipped, unreachable, send_at)
    select incident_id, $9, $10, $11, $12, $13, $14 from inserted
    returning incident_id, send_at
), queued as (
    insert into outbox (outbox_id, incident_id, channel, recipient, recipient_name, locale,
                        subject, body_text, body_html, due_at)
    select m.outbox_id, d.incident_id, m.channel, m.recipient, m.recipient_name, $15,
           m.subject, m.body_text, m.body_html, d.send_at
    from decided d,
         unnest($16::uuid[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])
             as m(outbox_id, channel, recipient, recipient_name, subject, body_text, body_html)
    returning outbox_id
)
select (select count(*) from inserted) as "inserted!", (select count(*) from queued) as "queued!"
