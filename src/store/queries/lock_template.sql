-- Serialises changes to template file $1 until the transaction ends, so a check of the version
-- in force and the publish that follows it cannot interleave with another's.
select pg_advisory_xact_lock(hashtext('amends_template:' || $1)) as "locked!"
