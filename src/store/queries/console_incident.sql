-- One incident's event as received, with its decision if one was recorded.
select i.payload,
       d.rule as "rule?", d.template as "template?", d.channels as "channels?",
       d.skipped as "skipped?", d.unreachable as "unreachable?", d.send_at as "send_at?",
       d.policy_version as "policy_version?", d.explanation as "explanation?",
       d.offers as "offers?", d.coalesced as "coalesced?", d.escalated as "escalated?"
from incident i
left join decision d using (incident_id)
where i.incident_id = $1
