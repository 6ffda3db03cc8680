-- An audit event's hash covers every stored column from version 2 on, its id too.
-- Events written before this migration keep version 1 (the hash without the id) and
-- are still verified by that formula; every event written from now on is version 2.
ALTER TABLE audit_events ADD COLUMN hash_version BIGINT NOT NULL DEFAULT 1;

-- The company a user last switched to in the back office, where their next sign-in
-- lands; empty until they first switch (then they land on their first company by name).
ALTER TABLE users ADD COLUMN last_company_id TEXT;
