-- Records a session's use at $2 (done about once a minute, not on every request).
update admin_session set last_seen_at = $2
 where id_hash = $1 and revoked_at is null and last_seen_at < $2
