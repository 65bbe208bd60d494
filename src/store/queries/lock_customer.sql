-- Serialises the incidents of one customer for the rest of the transaction, so the history read
-- next (per-customer caps, one apology per order) cannot change under us. A transaction-level
-- advisory lock: released at commit or rollback, never left behind.
with locked as (select pg_advisory_xact_lock(hashtextextended('amends.customer:' || $1, 0)))
select true as "locked!" from locked
