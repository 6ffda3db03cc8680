-- The counters' key takes the writer's shard, as on PostgreSQL, where each instance's
-- writer counts in rows of its own. SQLite has one writer: its rows keep the empty
-- shard. The table is built again (SQLite cannot change a primary key), its rows kept.
CREATE TABLE rate_counters_sharded (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    shard TEXT NOT NULL DEFAULT '',
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, subject, window_start, shard)
);
INSERT INTO rate_counters_sharded (scope, subject, window_start, shard, hits)
    SELECT scope, subject, window_start, '', hits FROM rate_counters;
DROP TABLE rate_counters;
ALTER TABLE rate_counters_sharded RENAME TO rate_counters;
