-- Ends every session of a person at $2 ("sign out everywhere"); names match in any case, as at
-- sign-in.
update admin_session set revoked_at = $2
 where lower(person) = lower($1) and revoked_at is null
