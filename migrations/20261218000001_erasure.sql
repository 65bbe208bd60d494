-- Erasure of personal data (CONTRACT §3 AMENDS_RETENTION, §4 amends forget; docs/privacy.md).
--
-- An incident's personal data (the contact details and names in its event, the messages' bodies
-- and recipients, the providers' receipts) is erased when it is older than the retention, or
-- when its customer asks to be forgotten; amounts, codes and counts stay for the ledger.
-- erased_at says when, so the periodic job skips what it already did.
alter table incident add column erased_at timestamptz;

comment on column incident.erased_at is
    'when the incident''s personal data was erased (retention or amends forget); null: not yet';

create index incident_unerased_idx on incident (created_at) where erased_at is null;

-- The key of the hash that stands in for a forgotten customer's identifiers: their suppressions
-- keep holding (a customer who said STOP stays stopped) without the contact itself being kept.
-- 32 bytes from two random UUIDs (gen_random_uuid uses the server's strong random source).
create table erasure_key (
    singleton  boolean     primary key default true,
    key        bytea       not null,
    created_at timestamptz not null default now(),
    constraint erasure_key_singleton_check check (singleton)
);

insert into erasure_key (key)
values (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

-- What a forgotten identifier (a contact on a channel, or a customer id under 'customer')
-- becomes: 'forgotten:' and the hex of SHA-256 over the key and the value. The same value always
-- gives the same text, so a suppression can still be matched; the text gives the value back
-- only to someone who has the key and guesses the value.
create function amends_forgotten(kind text, value text) returns text
    language sql stable parallel safe
    return 'forgotten:' || encode(sha256((select key from erasure_key) || convert_to(kind || ':' || value, 'UTF8')), 'hex');
