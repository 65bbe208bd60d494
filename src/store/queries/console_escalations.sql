-- Escalations, oldest open first: only $1 when given, only status $2 when given, only that of
-- incident $4 when given, at most $3; each with the customer and what the customer already received.
select e.escalation_id, e.incident_id, e.created_at, e.rule, e.reason, e.status, e.note,
       e.handled_at, e.handled_by, i.order_id, i.customer_id, i.event_type,
       nullif(concat_ws(' ', i.payload #>> '{data,customer,first_name}',
                        i.payload #>> '{data,customer,last_name}'), '') as customer_name,
       i.payload #>> '{data,customer,email}' as email,
       i.payload #>> '{data,customer,phone}' as phone,
       i.payload #>> '{data,customer,locale}' as locale,
       i.payload #>> '{data,customer,tier}' as tier,
       i.payload #>> '{data,customer,timezone}' as timezone,
       coalesce((select jsonb_agg(jsonb_build_object('channel', o.channel, 'status', o.status,
                                                     'subject', o.subject)
                                  order by o.created_at, o.channel)
                 from outbox o where o.incident_id = e.incident_id), '[]'::jsonb) as "messages!",
       -- The order's history: every incident recorded on it, what was decided and sent.
       coalesce((select jsonb_agg(jsonb_build_object(
                            'incident_id', h.incident_id, 'event_type', h.event_type,
                            'recorded_at', h.created_at, 'rule', d.rule,
                            'kind', d.explanation ->> 'kind',
                            'messages', (select count(*) from outbox m
                                         where m.incident_id = h.incident_id
                                           and m.status <> 'standby'))
                        order by h.created_at)
                 from incident h left join decision d using (incident_id)
                 where h.order_id = i.order_id), '[]'::jsonb) as "order_history!",
       -- The order's promise, as amends watches it.
       (select jsonb_build_object('state', w.state, 'deliver_by', w.deliver_by,
                                  'overdue_at', w.overdue_at, 'detected_at', w.detected_at,
                                  'update_due_at', w.update_due_at, 'carrier', w.carrier,
                                  'tracking_url', w.tracking_url)
        from order_watch w where w.order_id = i.order_id) as promise
from escalation e
join incident i using (incident_id)
where ($1::uuid is null or e.escalation_id = $1) and ($2::text is null or e.status = $2)
  and ($4::uuid is null or e.incident_id = $4)
order by e.status = 'handled', case when e.status = 'open' then e.created_at end,
         e.handled_at desc, e.created_at desc
limit $3
