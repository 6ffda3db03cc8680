-- The janitor's look for payments left in flight reads a partial index of in-flight
-- payments only, in place of an index of every payment by (status, updated_at): nothing
-- else reads that one (each list and report starts with the company), and over a year of
-- payments it holds a million entries that a sale inserted and moved, and a bulk load
-- built again. The statuses are the ones `Store::stale_payments` writes out literally (a
-- bound parameter would keep SQLite from using a partial index); a test reads the plan.
DROP INDEX payments_status;
CREATE INDEX payments_in_flight ON payments (updated_at)
    WHERE status IN ('processing', 'unknown', 'capturing', 'releasing', 'pending_3ds');
