-- The newest $1 incidents, or only those matching a search: $2 an order or customer id, $3 an
-- email address in lower case, $4 a phone number in E.164 (each null when the search is not one).
-- A contact matches the event as received or any message sent to it. With $5, only those older
-- than that incident (the next page of a list); with $6, only that incident.
select i.incident_id, i.created_at, i.source, i.event_id, i.event_type, i.order_id, i.customer_id,
       nullif(concat_ws(' ', i.payload #>> '{data,customer,first_name}',
                        i.payload #>> '{data,customer,last_name}'), '') as customer_name,
       i.payload #>> '{data,customer,email}' as email,
       i.payload #>> '{data,customer,phone}' as phone,
       d.rule as "rule?", d.escalated as "escalated?", d.coalesced as "coalesced?",
       d.unreachable as "unreachable?",
       coalesce((select jsonb_agg(jsonb_build_object('channel', o.channel, 'status', o.status,
                                                     'delivery_status', o.delivery_status,
                                                     'scheduled_until',
                                                     case when o.status = 'pending'
                                                               and o.scheduled_reason is not null
                                                          then o.due_at end)
                                  order by o.created_at, o.channel)
                 from outbox o where o.incident_id = i.incident_id), '[]'::jsonb) as "messages!"
from incident i
left join decision d using (incident_id)
where (($2::text is null and $3::text is null and $4::text is null)
       or i.order_id = $2 or i.customer_id = $2
       or lower(i.payload #>> '{data,customer,email}') = $3
       or i.payload #>> '{data,customer,phone}' = $4
       or i.incident_id in (select o.incident_id from outbox o where lower(o.recipient) in ($3, $4)))
  and ($5::uuid is null
       or (i.created_at, i.incident_id)
          < (select p.created_at, p.incident_id from incident p where p.incident_id = $5))
  and ($6::uuid is null or i.incident_id = $6)
order by i.created_at desc, i.incident_id desc
limit $1
