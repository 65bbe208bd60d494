-- Every contact the incidents $1 hold, as the suppression list keys them (email in lower case),
-- from their events and their messages.
select distinct channel as "channel!", contact as "contact!" from (
    select 'email' as channel, lower(btrim(payload #>> '{data,customer,email}')) as contact
      from incident where incident_id = any($1::uuid[])
    union all
    select 'sms', btrim(payload #>> '{data,customer,phone}')
      from incident where incident_id = any($1::uuid[])
    union all
    select channel, case channel when 'email' then lower(btrim(recipient)) else btrim(recipient) end
      from outbox where incident_id = any($1::uuid[])
) found
where contact is not null and contact <> ''
