-- Records what was decided for incident $1, in one statement: the decision, its messages (each
-- due at its own time: $40, after the quiet hours $41 of the customer's zone $43 where it fell
-- in them, $42 saying why it waits), the
-- compensation ledger (issued codes and declined offers), the escalation, and the outcome events
-- announcing each issued code and the escalation. A code already taken fails the statement on
-- compensation_code_key, and the caller retries with new codes.
with decided as (
    insert into decision (incident_id, rule, template, channels, skipped, unreachable, send_at,
                          policy_version, explanation, offers, coalesced, escalated)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text is not null)
    returning incident_id, send_at
), queued as (
    -- A message with standby_for ($38) is held in reserve: sent only if that one fails.
    insert into outbox (outbox_id, incident_id, channel, recipient, recipient_name, locale,
                        subject, body_text, body_html, due_at, status, standby_for, template_version,
                        quiet_hours, timezone, scheduled_reason)
    select m.outbox_id, d.incident_id, m.channel, m.recipient, m.recipient_name, $13,
           m.subject, m.body_text, m.body_html, m.due_at,
           case when m.standby_for is null then 'pending' else 'standby' end, m.standby_for, $39,
           m.quiet_hours, $43, m.scheduled_reason
    from decided d,
         unnest($14::uuid[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
                $38::uuid[], $40::timestamptz[], $41::text[], $42::text[])
             as m(outbox_id, channel, recipient, recipient_name, subject, body_text, body_html, standby_for,
                  due_at, quiet_hours, scheduled_reason)
    returning outbox_id, status
), ledger as (
    insert into compensation (compensation_id, incident_id, customer_id, order_id, rule, kind, status,
                              code, amount, percent, currency, cost, expires_at, reason)
    select c.compensation_id, d.incident_id, $21, $22, $2, c.kind, c.status, c.code,
           cast(c.amount as numeric), cast(c.percent as numeric), $23, cast(c.cost as numeric),
           c.expires_at, c.reason
    from decided d,
         unnest($24::uuid[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[],
                $30::text[], $31::timestamptz[], $32::text[])
             as c(compensation_id, kind, status, code, amount, percent, cost, expires_at, reason)
    returning compensation_id, kind, status, code, expires_at
), escalated as (
    insert into escalation (escalation_id, incident_id, rule, reason)
    select $33, d.incident_id, $2, $12::text from decided d where $12::text is not null
    returning escalation_id, reason
), about as (
    -- What every outcome event of this incident says about it. No contact details: the events
    -- say what was given or asked for which order, not to whom.
    select jsonb_build_object(
               'incident', jsonb_build_object('source', $35::text, 'id', $36::text, 'type', $37::text),
               'order_id', $22::text,
               'customer_id', $21::text,
               'rule', $2::text) as data,
           (select traceparent from incident where incident_id = $1) as traceparent
), announced as (
    insert into outcome_event (event_id, source, event_type, subject, data, traceparent)
    select gen_random_uuid(), $34, 'compensation.issued', l.code,
           a.data || jsonb_build_object(
               'compensation_id', l.compensation_id,
               'kind', l.kind,
               'code', l.code,
               'amount', c.amount,
               'percent', c.percent,
               'currency', $23::text,
               'expires_at', l.expires_at,
               'fallback', c.reason),
           a.traceparent
    from about a, ledger l
    join unnest($24::uuid[], $28::text[], $29::text[], $32::text[]) as c(compensation_id, amount, percent, reason)
        using (compensation_id)
    where l.status = 'issued'
    union all
    select gen_random_uuid(), $34, 'escalation.requested', e.escalation_id::text,
           a.data || jsonb_build_object('escalation_id', e.escalation_id, 'reason', e.reason),
           a.traceparent
    from about a, escalated e
    returning event_id
)
select (select count(*) from queued where status = 'pending') as "queued!", (select count(*) from announced) as "announced!"
