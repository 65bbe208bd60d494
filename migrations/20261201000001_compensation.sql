-- Compensation, budgets and escalations (policy engine), and what every decision was based on.

-- Why a decision is what it is: the policy version (content hash) that made it, the full
-- explanation (each rule tried, offers, budget, channels), and, for an incident the customer
-- had already been told about, why nothing new was sent.
alter table decision
    add column policy_version text not null default '',
    add column explanation    jsonb not null default '{}'::jsonb,
    add column offers         jsonb not null default '[]'::jsonb,
    add column coalesced      text,
    add column escalated      boolean not null default false;

-- The compensation ledger: every code amends issued, and every offer it declined for budget
-- reasons, with why. Codes are unique across all time, so one code can never be redeemed for two
-- customers; amends generates them and the commerce platform creates them from the
-- compensation.issued events.
create table compensation (
    compensation_id uuid primary key,
    incident_id     uuid not null references incident (incident_id) on delete cascade,
    customer_id     text not null,
    order_id        text not null,
    rule            text not null,
    kind            text not null,
    status          text not null,
    code            text,
    -- Face value (amount off, gift certificate) or the cap of a percentage.
    amount          numeric(20, 4),
    percent         numeric(5, 2),
    currency        text not null,
    -- What the offer counts against budgets.
    cost            numeric(20, 4) not null default 0,
    expires_at      timestamptz,
    -- Why an offer was declined, or for an issued one, that it is a fallback and why.
    reason          text,
    created_at      timestamptz not null default now(),
    constraint compensation_code_key unique (code),
    constraint compensation_status_check check (status in ('issued', 'declined')),
    constraint compensation_code_check check (status <> 'issued' or code is not null),
    constraint compensation_kind_check check (kind in
        ('percent_off', 'amount_off', 'free_shipping', 'gift_certificate'))
);

-- Per-customer caps sum the customer's recent issued compensation.
create index compensation_customer_idx on compensation (customer_id, created_at) where status = 'issued';
create index compensation_incident_idx on compensation (incident_id);

-- The global budget: what was spent per day (in the policy's budget time zone) and currency.
-- Reserved with one conditional upsert in the transaction that records the decision, so
-- concurrent consumers and replicas serialise on the row and can never overspend.
create table budget_day (
    day         date not null,
    currency    text not null,
    spent       numeric(20, 4) not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint budget_day_pkey primary key (day, currency),
    constraint budget_day_spent_check check (spent >= 0)
);

-- Incidents a person should follow up (e.g. call a VIP whose order was cancelled).
create table escalation (
    escalation_id uuid primary key,
    incident_id   uuid not null references incident (incident_id) on delete cascade,
    rule          text not null,
    reason        text not null,
    status        text not null default 'open',
    note          text,
    handled_at    timestamptz,
    created_at    timestamptz not null default now(),
    constraint escalation_incident_key unique (incident_id),
    constraint escalation_status_check check (status in ('open', 'handled'))
);

create index escalation_open_idx on escalation (created_at) where status = 'open';
