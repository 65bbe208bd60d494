-- Ends one session at $2 (signing out), wherever its cookie was copied.
update admin_session set revoked_at = $2
 where id_hash = $1 and revoked_at is null
