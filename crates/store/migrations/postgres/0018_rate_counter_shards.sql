-- Each instance's writer counts in rows of its own (`shard`: the writer connection's
-- backend process id), so that two instances never wait for each other's counter rows;
-- a count is the sum of a counter's rows. Rows counted before this migration keep the
-- empty shard and still count.
ALTER TABLE rate_counters ADD COLUMN shard TEXT NOT NULL DEFAULT '';
ALTER TABLE rate_counters DROP CONSTRAINT rate_counters_pkey;
ALTER TABLE rate_counters ADD PRIMARY KEY (scope, subject, window_start, shard);
