-- Webhook endpoints, the event outbox and its deliveries, and checkout sessions
-- (hosted payment page and payment links). PostgreSQL.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE INDEX webhook_endpoints_company ON webhook_endpoints (company_id);

-- The outbox: written in the transaction of the change that causes the event.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX webhook_events_subject ON webhook_events (subject_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES webhook_events (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    status TEXT NOT NULL,
    tries BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    retry_from BIGINT NOT NULL,
    last_http_status BIGINT,
    last_response TEXT,
    last_error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every try of a delivery, with the answer.
CREATE TABLE webhook_delivery_tries (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    try_no BIGINT NOT NULL,
    signed_at BIGINT NOT NULL,
    http_status BIGINT,
    response TEXT,
    error TEXT,
    next_attempt_at BIGINT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);

CREATE INDEX webhook_delivery_tries_delivery ON webhook_delivery_tries (delivery_id, try_no);

CREATE TABLE checkout_sessions (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    purpose TEXT NOT NULL,
    amount BIGINT,
    min_amount BIGINT,
    max_amount BIGINT,
    currency TEXT NOT NULL,
    order_ref TEXT,
    customer_ref TEXT,
    description TEXT,
    return_url TEXT,
    -- The key of the signed return, encrypted like POS credentials.
    return_secret_enc TEXT,
    max_installments BIGINT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    payment_id TEXT REFERENCES payments (id),
    tries BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);

CREATE INDEX checkout_sessions_company ON checkout_sessions (company_id, created_at);
CREATE INDEX checkout_sessions_payment ON checkout_sessions (payment_id);
