-- Provider events that cannot be replayed or reordered, and suppressions lifted only by whoever
-- may lift them.

-- The provider's own id for each event (SendGrid's sg_event_id, Twilio's MessageSid with the
-- status, ...). An event already recorded is not recorded, nor acted on, a second time: that is
-- what makes a replayed request or a retried batch change nothing. Rows from before this
-- migration have none, and never conflict.
alter table delivery_event
    add column provider_event_id text;

create unique index delivery_event_provider_event_key
    on delivery_event (provider, provider_event_id);

-- The rank of a message's delivery status (see store::delivery::status_rank), and when the
-- provider says that status happened: a report ranked lower, or of the same rank but older,
-- does not overwrite it, so a late "delivered" never undoes a "bounced".
alter table outbox
    add column delivery_rank        smallint,
    add column delivery_occurred_at timestamptz;

update outbox set delivery_rank = case
    when delivery_status in ('queued', 'accepted', 'scheduled', 'processed', 'sending') then 10
    when delivery_status in ('sent', 'buffered', 'deferred', 'soft_bounced') then 20
    when delivery_status in ('delivered') then 30
    when delivery_status in ('opened', 'read') then 40
    when delivery_status in ('clicked') then 50
    when delivery_status in ('bounced', 'failed', 'undelivered', 'dropped', 'blocked', 'expired',
                             'rejected', 'canceled') then 100
    when delivery_status in ('unsubscribed') then 110
    when delivery_status in ('complained') then 120
    else 0 end
 where delivery_status is not null;

-- A contact may now carry several suppressions at once, each remembering who put it there
-- (a provider's name, or the person) and why; the contact is suppressed while any of them is in
-- force. A provider's opt-in lifts only what that provider's own opt-out did; a person may lift
-- any. Lifted rows stay, with who lifted them, as the history.
alter table suppression drop constraint suppression_pkey;

alter table suppression
    add column suppression_id bigint generated always as identity,
    add column lifted_by      text;

alter table suppression add constraint suppression_pkey primary key (suppression_id);

-- Until now a lift overwrote the source with whoever lifted it.
update suppression set lifted_by = source where lifted_at is not null;

-- One suppression in force per contact, author and reason; the same opt-out again only
-- refreshes it.
create unique index suppression_in_force_key
    on suppression (channel, contact, source, reason)
    where lifted_at is null;

comment on column suppression.source is
    'who put it there: a provider (twilio, sendgrid, postmark, vonage) for the reasons '
    'hard_bounce, spam_complaint, unsubscribed and stop, or the person for reason manual';
comment on column suppression.lifted_by is
    'who lifted it: the provider whose opt-in undid its own opt-out, or a person';
