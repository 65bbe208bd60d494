-- A console session not revoked, by the hash of its id.
select person, fingerprint, last_seen_at, expires_at
from admin_session
where id_hash = $1 and revoked_at is null
