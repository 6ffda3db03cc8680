-- Reconciliation runs and their items (one decision unit each). Provider rows and
-- payment ids are stored as JSON text; amounts in kuruş. A re-run of the same period
-- carries earlier decisions over by item_key.

CREATE TABLE recon_runs (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    pos_id TEXT NOT NULL REFERENCES pos_definitions (id),
    source TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX recon_runs_company ON recon_runs (company_id, created_at, id);

CREATE TABLE recon_items (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES recon_runs (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    seq BIGINT NOT NULL,
    item_key TEXT NOT NULL,
    class TEXT NOT NULL,
    reason TEXT NOT NULL,
    match_key TEXT,
    payment_ids TEXT NOT NULL,
    provider_rows TEXT NOT NULL,
    ours BIGINT NOT NULL,
    theirs BIGINT NOT NULL,
    ours_reversed BIGINT NOT NULL,
    theirs_reversed BIGINT NOT NULL,
    proposal TEXT,
    flags TEXT NOT NULL,
    resolution TEXT,
    resolution_reason TEXT,
    resolution_payment_id TEXT,
    resolved_by TEXT,
    resolved_at BIGINT
);

CREATE INDEX recon_items_run ON recon_items (run_id, seq);
CREATE INDEX recon_items_key ON recon_items (company_id, item_key);
CREATE INDEX payments_recon ON payments (company_id, pos_id, business_date);
