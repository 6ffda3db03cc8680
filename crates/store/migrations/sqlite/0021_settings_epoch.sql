-- A counter of changes to what a sale reads before it writes: API keys and POS
-- definitions. Every write of the store that adds, changes or revokes one of them adds
-- one in the same transaction (a sale's own `last_success_at` / `last_error` does not),
-- so an instance may keep those rows in memory and check them with this one number,
-- read in a statement the sale makes anyway. A change made by hand, outside the
-- service, must add one too: `UPDATE settings_epoch SET n = n + 1`.
CREATE TABLE settings_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO settings_epoch (id, n) VALUES (1, 0);
