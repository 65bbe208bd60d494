-- Rendered messages waiting to be sent, and what happened to each.
--
-- A row is claimed with a lease (claimed_by, claimed_until) in one short statement, never by a
-- transaction held open during the send; results are written only "where claimed_by = me", so a
-- dispatcher that lost its lease cannot overwrite another's work.
create table outbox (
    outbox_id          uuid primary key,
    incident_id        uuid not null references incident (incident_id) on delete cascade,
    channel            text not null,
    recipient          text not null,
    recipient_name     text,
    locale             text not null,
    subject            text,
    body_text          text not null,
    body_html          text,
    status             text not null default 'pending',
    due_at             timestamptz not null,
    attempts           integer not null default 0,
    claimed_by         text,
    claimed_until      timestamptz,
    -- Whether a send cut off by a crash may be repeated: true only for providers where a second
    -- send cannot reach the customer twice (the file outbox overwrites the same file).
    resend_safe        boolean not null default false,
    provider           text,
    provider_message_id text,
    last_error         text,
    sent_at            timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint outbox_channel_check check (channel in ('email', 'sms')),
    constraint outbox_status_check check (status in ('pending', 'sending', 'sent', 'failed', 'unknown')),
    constraint outbox_incident_channel_key unique (incident_id, channel)
);

-- The dispatcher's claim scans only due pending rows.
create index outbox_due_idx on outbox (due_at) where status = 'pending';
-- The reaper scans only claimed rows.
create index outbox_claimed_idx on outbox (claimed_until) where status = 'sending';

-- Every attempt to send an outbox row, successful or not.
create table attempt (
    attempt_id     bigint generated always as identity primary key,
    outbox_id      uuid not null references outbox (outbox_id) on delete cascade,
    number         integer not null,
    provider       text not null,
    instance       text not null,
    outcome        text not null,
    error          text,
    started_at     timestamptz not null,
    finished_at    timestamptz not null default now(),
    created_at     timestamptz not null default now(),
    constraint attempt_outcome_check check (outcome in ('sent', 'retry', 'failed', 'unknown', 'lease_expired'))
);

create index attempt_outbox_idx on attempt (outbox_id);
