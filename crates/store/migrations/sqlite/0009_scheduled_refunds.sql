-- A refund asked before the provider's business day closed is kept as `scheduled` and
-- carried out after the close. `scheduled_at` marks a refund that was ever scheduled
-- (an execution the janitor cannot confirm goes back to scheduled, never to failed);
-- `next_try_at` is when a background pass may next send it, `tries` how often it was
-- sent while the day was still open (the back-off grows with it).
ALTER TABLE refunds ADD COLUMN scheduled_at BIGINT;
ALTER TABLE refunds ADD COLUMN next_try_at BIGINT;
ALTER TABLE refunds ADD COLUMN tries BIGINT NOT NULL DEFAULT 0;
