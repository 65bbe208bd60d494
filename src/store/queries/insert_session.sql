-- A new console session: the hash of its id, who, the fingerprint of their configured entry,
-- and when it began ($4) and ends at the latest ($5).
insert into admin_session (id_hash, person, fingerprint, created_at, last_seen_at, expires_at)
values ($1, $2, $3, $4, $4, $5)
