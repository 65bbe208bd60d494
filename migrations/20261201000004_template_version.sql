-- Which template texts each message was rendered with: the SHA-256 of every template file's name
-- and text in force when it was recorded (see `Templates::version`). Rows from before this
-- migration have none.
alter table outbox add column template_version text;
