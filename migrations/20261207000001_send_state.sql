-- Per-message send state: whether a claimed message's request has left amends.
--
-- A claim alone sends nothing: a message may wait for a rate limiter or a connection after it is
-- claimed. Just before the first request of an attempt leaves for a provider, the dispatcher sets
-- send_started_at in a short statement of its own, fenced by the claim, and the outcome clears it.
-- When a dispatcher dies, the reaper reads it: a message whose request never left is simply due
-- again, on any replica; one whose request may have reached a provider is in doubt, and is sent
-- again or left 'unknown' for a person as resend_safe (the channel's in-doubt rule) says.
alter table outbox add column send_started_at timestamptz;

comment on column outbox.resend_safe is
    'whether a message in doubt (its request may have reached the provider) is sent again: '
    'true for email by default (same Message-ID), false for SMS without an idempotency key';
