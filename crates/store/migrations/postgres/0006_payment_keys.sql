-- Which payment an idempotency key created, written in the transaction that creates the
-- payment. A request that takes over a key whose first request died (the key's lock
-- expired) finds the payment here and answers with it instead of charging again.
CREATE TABLE payment_keys (
    company_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (company_id, idem_key)
);
