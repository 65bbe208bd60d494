-- What providers report after a send, and who must not be written to.

-- The latest status a provider reported for a message (delivered, bounced, failed, opened,
-- complained, ...), beside the outbox row's own status (which says whether we handed it over).
alter table outbox
    add column delivery_status     text,
    add column delivery_updated_at timestamptz;

-- Webhooks find a message by the provider's id for it.
create index outbox_provider_message_idx on outbox (provider_message_id)
    where provider_message_id is not null;

-- Every verified webhook event, kept as received. outbox_id is null when the event names a
-- message we do not know (another system's, or one already deleted).
create table delivery_event (
    delivery_event_id   bigint generated always as identity primary key,
    outbox_id           uuid references outbox (outbox_id) on delete cascade,
    provider            text not null,
    provider_message_id text,
    status              text not null,
    detail              text,
    payload             jsonb not null,
    occurred_at         timestamptz,
    created_at          timestamptz not null default now()
);

create index delivery_event_outbox_idx on delivery_event (outbox_id);

-- Contacts we must not message on a channel: hard bounces, spam complaints, SMS STOP replies,
-- or a person's decision. A row is in force while lifted_at is null; START (or a person) lifts
-- it, and a new STOP puts it back. Email addresses are stored in lower case, numbers in E.164.
create table suppression (
    channel     text not null,
    contact     text not null,
    reason      text not null,
    source      text not null,
    detail      text,
    lifted_at   timestamptz,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint suppression_pkey primary key (channel, contact),
    constraint suppression_channel_check check (channel in ('email', 'sms')),
    constraint suppression_reason_check
        check (reason in ('hard_bounce', 'spam_complaint', 'unsubscribed', 'stop', 'manual'))
);
