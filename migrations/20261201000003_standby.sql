-- A message held in reserve on another channel: sent only if the one it stands by for fails on
-- every provider (then 'standby' becomes 'pending'), and 'cancelled' once that one was sent.
alter table outbox
    add column standby_for uuid references outbox (outbox_id) on delete cascade;

alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check
    check (status in ('pending', 'sending', 'sent', 'failed', 'unknown', 'standby', 'cancelled'));

create index outbox_standby_idx on outbox (standby_for) where standby_for is not null;
