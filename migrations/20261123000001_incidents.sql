-- Every order incident amends has accepted, exactly once per CloudEvents (source, id).
--
-- The unique key is the idempotency guarantee of the whole system: a redelivered or republished
-- event finds its row here and creates nothing new. Its name is matched by the code.
create table incident (
    incident_id   uuid primary key,
    source        text not null,
    event_id      text not null,
    event_type    text not null,
    order_id      text not null,
    customer_id   text not null,
    -- The CloudEvent as received, so any decision can be explained or replayed later.
    payload       jsonb not null,
    occurred_at   timestamptz,
    created_at    timestamptz not null default now(),
    constraint incident_source_event_id_key unique (source, event_id)
);

create index incident_order_idx on incident (order_id, created_at);
create index incident_customer_idx on incident (customer_id, created_at);

-- What the policy decided for an incident: one row per incident.
create table decision (
    incident_id   uuid primary key references incident (incident_id) on delete cascade,
    rule          text not null,
    template      text not null,
    -- Channels the message goes out on, and each channel considered but skipped with its reason
    -- (e.g. {"sms": "no SMS consent"}), so an operator can see why a customer heard nothing.
    channels      text[] not null,
    skipped       jsonb not null default '{}'::jsonb,
    -- Set when no channel was usable: recorded, visible, not an error.
    unreachable   text,
    send_at       timestamptz not null,
    created_at    timestamptz not null default now()
);

create index decision_unreachable_idx on decision (created_at) where unreachable is not null;
