-- Inserts the incident (nothing for a duplicate (source, id)) and reads what came before it:
-- the customer's recent incidents and messages, the compensation they received in the
-- per-customer window ($11 seconds, currency $10), the earlier incidents of this order (with the
-- kind of rule that decided each, the date a delay told, the codes issued for it, whether a
-- message of it is on its way or out, and whether one still waits, never attempted, which a
-- newer incident may replace), and the
-- channels on which the customer's address ($12, lower case) or number ($13) is suppressed (by
-- any suppression in force, whoever put it there), and what budget day $14 has spent in the
-- currency (read without its row lock: the reservation, later, is what holds). The
-- reads see the database as it was before this statement, so the new incident is not among them.
-- $15 is the trace the incident belongs to (W3C traceparent), if any.
with inserted as (
    insert into incident (incident_id, source, event_id, event_type, order_id, customer_id, payload, occurred_at,
                          traceparent)
    values ($1, $2, $3, $4, $5, $6, cast($7::text as jsonb), $8, $15)
    on conflict on constraint incident_source_event_id_key do nothing
    returning incident_id
)
select
    (select count(*) from inserted) as "inserted!",
    (select count(*) from incident i
      where i.customer_id = $6 and i.created_at > now() - make_interval(secs => $9)) as "customer_incidents!",
    (select count(*) from outbox o join incident i using (incident_id)
      where i.customer_id = $6 and o.created_at > now() - make_interval(secs => $9)
        and o.status not in ('standby', 'cancelled')) as "customer_messages!",
    (select coalesce(sum(c.cost), 0)::text from compensation c
      where c.customer_id = $6 and c.currency = $10 and c.status = 'issued'
        and c.created_at > now() - make_interval(secs => $11)) as "customer_compensation!",
    (select coalesce(jsonb_agg(jsonb_build_object(
                'type', i.event_type,
                'at', i.created_at,
                'id', i.incident_id::text,
                'occurred_at', i.occurred_at,
                'messaged', exists (select 1 from outbox o
                                    where o.incident_id = i.incident_id and o.status <> 'cancelled'),
                'waiting', exists (select 1 from outbox o
                                   where o.incident_id = i.incident_id and o.status = 'pending'
                                     and o.attempts = 0),
                'given', (select coalesce(sum(c.cost), 0)::text from compensation c
                          where c.incident_id = i.incident_id and c.status = 'issued' and c.currency = $10),
                -- Decisions before rule kinds existed were all apologies.
                'kind', coalesce((select nullif(d.explanation->>'kind', '') from decision d
                                  where d.incident_id = i.incident_id), 'apology'),
                -- What a delay told the customer: its new date, null when unknown.
                'eta', case when i.event_type = 'order.delayed'
                            then i.payload->'data'->'delay'->'new_eta' end,
                'codes', (select coalesce(jsonb_agg(jsonb_build_object(
                                    'code', c.code, 'kind', c.kind, 'amount', c.amount::text,
                                    'percent', c.percent::text, 'expires_at', c.expires_at)
                                  order by c.created_at), '[]'::jsonb)
                          from compensation c
                          where c.incident_id = i.incident_id and c.status = 'issued'
                            and c.currency = $10 and c.code is not null))
            order by i.created_at), '[]'::jsonb)
      from incident i where i.order_id = $5 and i.customer_id = $6) as "order_incidents!",
    (select coalesce(array_agg(distinct s.channel order by s.channel), '{}') from suppression s
      where s.lifted_at is null
        and ((s.channel = 'email' and s.contact in ($12, amends_forgotten('email', $12)))
             or (s.channel = 'sms' and s.contact in ($13, amends_forgotten('sms', $13))))) as "suppressed!",
    (select coalesce((select spent from budget_day where day = $14 and currency = $10), 0)::text) as "budget_spent!"
