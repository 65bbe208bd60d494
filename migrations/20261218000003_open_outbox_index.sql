-- The messages not yet settled, by channel and status: what the backlog gauges count every
-- refresh (amends_outbox_messages, amends_outbox_oldest_due_seconds) without reading the sent
-- ones, which are most of the table.
create index outbox_open_idx on outbox (channel, status, due_at)
    where status in ('pending', 'sending', 'unknown', 'standby');
