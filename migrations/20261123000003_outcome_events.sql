-- Outcome events (CloudEvents on the events exchange) waiting to be published, and published.
--
-- They are written in the same statement as the outcome they announce, so an outcome is never
-- recorded without its event; a publisher claims them with a lease and marks them published after
-- the broker confirmed them. A publisher that dies leaves its claim to expire, and the event is
-- published again: at least once, with a stable CloudEvents id for consumers to deduplicate.
create table outcome_event (
    event_id       uuid primary key,
    -- The instance that recorded the outcome: with event_id, the CloudEvents identity, stable
    -- whichever replica ends up publishing it.
    source         text not null,
    event_type     text not null,
    subject        text,
    data           jsonb not null,
    status         text not null default 'pending',
    attempts       integer not null default 0,
    claimed_by     text,
    claimed_until  timestamptz,
    published_at   timestamptz,
    created_at     timestamptz not null default now(),
    constraint outcome_event_status_check check (status in ('pending', 'published'))
);

-- The publisher scans only unpublished events.
create index outcome_event_pending_idx on outcome_event (created_at) where status = 'pending';
