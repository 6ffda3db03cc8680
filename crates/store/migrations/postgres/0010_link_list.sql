-- Payment links listed newest first with keyset paging on (created_at, id), per
-- company and purpose: the filtered list walks this index from the cursor on.
CREATE INDEX checkout_sessions_list ON checkout_sessions (company_id, purpose, created_at, id);
