-- W3C trace context (the CloudEvents distributed-tracing extension): the trace an incident
-- belongs to, so the outcome events announced for it, when it is recorded or when its messages
-- are sent later, carry it on to the order system and customer service.
alter table incident add column traceparent text;

comment on column incident.traceparent is
    'the W3C traceparent of amends'' span for the event (a child of the order system''s), or the '
    'one the event came with when traces are not exported; null: the event had none';

alter table outcome_event add column traceparent text;
