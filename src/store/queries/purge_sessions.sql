-- Deletes sessions that can no longer be used: revoked, past their end ($1), or idle since
-- before $2.
delete from admin_session
 where revoked_at is not null or expires_at <= $1 or last_seen_at <= $2
