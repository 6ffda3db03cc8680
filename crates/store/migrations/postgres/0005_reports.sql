-- Reports over payments (the filtered list, its totals, exports, the dashboard) and
-- statement column-mapping profiles per POS.
--
-- card_last4 is derived from the masked PAN (first 6 + last 4), never from a card
-- number: a generated column, so every writer fills it without knowing about it.
-- The list pages newest first, keyset on (created_at, id); each selective filter gets an
-- index that starts with the company and the filter and ends with (created_at, id), so a
-- filtered page is an ordered index range read rather than a scan and a sort (and so the
-- planner, which prefers an index that gives the order, never picks the plain company
-- index and scans it for a rare reference). The three 0001 reference indexes are
-- replaced by their ordered versions. Low-selectivity filters (channel, POS) walk the
-- company index newest first and stop after a page; an amount range that matches few
-- payments is read through the amount index and sorted (see store/src/reports.rs). The
-- amount index also covers what the totals sum, so the totals of a whole company are
-- read from it alone instead of from every row in amount order.

ALTER TABLE payments ADD COLUMN card_last4 TEXT GENERATED ALWAYS AS (right(masked_pan, 4)) STORED;

DROP INDEX payments_order_ref;
DROP INDEX payments_customer_ref;
DROP INDEX payments_provider_ref;

CREATE INDEX payments_company_status_created ON payments (company_id, status, created_at, id);
CREATE INDEX payments_company_customer_created ON payments (company_id, customer_ref, created_at, id);
CREATE INDEX payments_company_order_created ON payments (company_id, order_ref, created_at, id);
CREATE INDEX payments_company_last4_created ON payments (company_id, card_last4, created_at, id);
CREATE INDEX payments_company_auth_created ON payments (company_id, auth_code, created_at, id);
CREATE INDEX payments_company_provider_ref_created ON payments (company_id, provider_ref, created_at, id);
CREATE INDEX payments_company_amount ON payments (company_id, amount, currency, status, refunded_amount);
CREATE INDEX payments_company_review ON payments (company_id) WHERE review_reason IS NOT NULL;

CREATE INDEX audit_events_subject ON audit_events (company_id, subject_id, seq);

CREATE TABLE statement_profiles (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    pos_id TEXT NOT NULL REFERENCES pos_definitions (id),
    name TEXT NOT NULL,
    profile TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT statement_profiles_pos_name UNIQUE (pos_id, name)
);

CREATE INDEX statement_profiles_company ON statement_profiles (company_id, pos_id);
