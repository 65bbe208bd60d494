-- What the coordinator's console needs: drafts of template texts, who handled an escalation,
-- and finding incidents by a customer's contact.

-- A file has at most one draft at a time: saving again replaces its text, publishing it turns it
-- into the published version. Drafts are versions like any other, so the history shows them.
create unique index template_edit_draft_key on template_edit (name) where status = 'draft';

-- Who marked an escalation handled (the signed-in person), beside when and the note.
alter table escalation add column handled_by text;

-- The console finds incidents by the customer's email address (any case) or phone number as the
-- order system sent them; these read the event as received rather than copying contacts out.
create index incident_email_idx on incident (lower(payload #>> '{data,customer,email}'));
create index incident_phone_idx on incident ((payload #>> '{data,customer,phone}'));
-- The activity list is newest first.
create index incident_created_idx on incident (created_at desc);
-- The ledger and budget views read recent compensation.
create index compensation_created_idx on compensation (created_at desc);

-- A draft the coordinator threw away is kept, as discarded, like every other version.
alter table template_edit drop constraint template_edit_status_check;
alter table template_edit add constraint template_edit_status_check
    check (status in ('draft', 'published', 'retired', 'discarded'));

-- Searching by contact also finds messages sent to it (addresses in any case, numbers in E.164).
create index outbox_recipient_idx on outbox (lower(recipient));

-- Messages a person should look at (failed for good, or an outcome nobody knows), newest first.
create index outbox_attention_idx on outbox (updated_at desc) where status in ('failed', 'unknown');
