-- The watch for orders whose promised date passes in silence (CONTRACT §1 order.placed, §3
-- AMENDS_OVERDUE_*).
--
-- One row per order: the promise as the latest event gave it, and what amends did when it passed
-- with no order.delivered and no cancellation. The customer and order data of the latest event
-- are kept so that amends can speak first without the order system's help.
create table order_watch (
    order_id       text        primary key,
    customer_id    text        not null,
    -- data.order and data.customer of the latest event on the order.
    order_data     jsonb       not null,
    customer_data  jsonb       not null,
    -- The promised day on the customer's calendar; null: no date is known.
    deliver_by     date,
    -- When silence past the promise counts as overdue (the promised day over, then the grace).
    overdue_at     timestamptz,
    carrier        text,
    tracking_url   text,
    -- watching: the promise stands; overdue: amends apologised and promised an update;
    -- updated: the update went out too; held: found overdue over the day's cap, nothing sent;
    -- unknown: no date to watch; delivered, cancelled: closed for good.
    state          text        not null,
    detected_at    timestamptz,
    -- The update promised with the overdue apology, while state = overdue.
    update_due_at  timestamptz,
    -- The incident amends raised last for this order (order.overdue).
    overdue_event  text,
    -- Whether order.placed was seen: only an order placed with a promise is watched. The others
    -- keep what later events said (a date, a delivery), so that an order.placed arriving after
    -- them does not bring back an older promise or reopen a delivered order.
    placed         boolean     not null default false,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint order_watch_state_check check (state in
        ('watching', 'overdue', 'updated', 'held', 'unknown', 'delivered', 'cancelled'))
);

comment on table order_watch is 'each order''s promised delivery date, watched for silence past it';

-- What the watcher looks for on every check: promises due, and updates due.
create index order_watch_due_idx on order_watch (overdue_at) where state = 'watching' and placed;
create index order_watch_update_idx on order_watch (update_due_at) where state = 'overdue' and placed;
-- The gauges and the console count the open ones by state; closed orders are most of the table.
create index order_watch_open_idx on order_watch (state, updated_at)
    where placed and state in ('watching', 'overdue', 'updated', 'held', 'unknown');
create index order_watch_customer_idx on order_watch (customer_id);
create index order_watch_closed_idx on order_watch (updated_at)
    where state in ('delivered', 'cancelled');

-- Each day's overdue orders (the budget's day): how many got an automatic message (at most the
-- configured cap), how many were held, and whether the summary for a person was raised.
create table overdue_day (
    day        date        primary key,
    messaged   integer     not null default 0,
    held       integer     not null default 0,
    created_at timestamptz not null default now()
);

-- Work one replica at a time should do (the overdue watcher): held by `holder` until
-- `expires_at` (the database's clock); another replica takes it over once it runs out.
create table lease (
    name       text        primary key,
    holder     text        not null,
    expires_at timestamptz not null
);
