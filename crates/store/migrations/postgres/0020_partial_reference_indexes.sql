-- The list's indexes by order, customer, authorisation code and provider reference hold
-- only the payments that carry one. A sale is claimed with no authorisation code and no
-- provider reference (its outcome brings them), and many sales carry no order or
-- customer reference, yet a full index takes an entry for every such NULL: four index
-- pages more for each claim to write and sync, and on the outcome the NULL entries of
-- the first two to take out again. Every read of these indexes filters by `column = ?`
-- (the list, its totals and exports) or `IS NOT NULL` (the customer references), which
-- lets both engines use an index of the non-NULL rows; a test reads the plans.
DROP INDEX payments_company_order_created;
DROP INDEX payments_company_customer_created;
DROP INDEX payments_company_auth_created;
DROP INDEX payments_company_provider_ref_created;
CREATE INDEX payments_company_order_created ON payments (company_id, order_ref, created_at, id)
    WHERE order_ref IS NOT NULL;
CREATE INDEX payments_company_customer_created ON payments (company_id, customer_ref, created_at, id)
    WHERE customer_ref IS NOT NULL;
CREATE INDEX payments_company_auth_created ON payments (company_id, auth_code, created_at, id)
    WHERE auth_code IS NOT NULL;
CREATE INDEX payments_company_provider_ref_created ON payments (company_id, provider_ref, created_at, id)
    WHERE provider_ref IS NOT NULL;
