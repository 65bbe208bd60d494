-- Erases the personal data of the incidents $1: the contact details and names in the event, the
-- messages' recipients, names, subjects and bodies, and the providers' receipts and error texts
-- about them (which may quote an address). Amounts, codes, decisions and counts stay. The number
-- of incidents, messages and receipts erased.
with old as (
    select incident_id from incident where incident_id = any($1::uuid[])
), incidents as (
    update incident i
    set payload = i.payload #- '{data,customer,email}' #- '{data,customer,phone}'
                            #- '{data,customer,first_name}' #- '{data,customer,last_name}',
        erased_at = now()
    from old
    where i.incident_id = old.incident_id
    returning i.incident_id
), messages as (
    update outbox o
    set recipient = '', recipient_name = null, subject = null, body_text = '', body_html = null,
        last_error = null, updated_at = now()
    from old
    where o.incident_id = old.incident_id
    returning o.outbox_id
), receipts as (
    update delivery_event e
    set payload = '{}'::jsonb, detail = null
    from outbox o, old
    where e.outbox_id = o.outbox_id and o.incident_id = old.incident_id
    returning e.delivery_event_id
), attempts as (
    update attempt a
    set error = null
    from outbox o, old
    where a.outbox_id = o.outbox_id and o.incident_id = old.incident_id and a.error is not null
    returning a.attempt_id
)
select (select count(*) from incidents) as "incidents!",
       (select count(*) from messages) as "messages!",
       (select count(*) from receipts) as "receipts!"
