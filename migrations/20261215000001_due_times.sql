-- When a message may go out, and messages replaced before they did.
--
-- A message due in the customer's quiet hours (or after a rule's delay) is stored 'pending' with
-- its due_at at their end, and scheduled_reason saying why: that is what the console shows as
-- "scheduled until ...". The quiet hours that apply to it and the customer's time zone are kept
-- with it, so a send that comes later than planned (a retry, a message held in reserve that
-- stands in for another, a claim taken back) is checked against them again and never goes out
-- in the night.
alter table outbox
    add column quiet_hours      text,
    add column timezone         text,
    add column scheduled_reason text;

-- A message still waiting (never attempted) when a newer incident on its order arrived is
-- cancelled rather than sent after it: cancelled_reason says why, superseded_by names the
-- incident that replaced it.
alter table outbox
    add column cancelled_reason text,
    add column superseded_by    uuid references incident (incident_id) on delete set null;

comment on column outbox.quiet_hours is
    'the window of the customer''s day (HH:MM-HH:MM, their time zone) in which this message is '
    'never sent; null: none';
