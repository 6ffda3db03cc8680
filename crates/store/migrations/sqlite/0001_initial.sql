-- sanalpos schema, version 1 (SQLite). Same as the PostgreSQL file except that flags are
-- INTEGER 0/1: the sqlx Any driver cannot read columns SQLite reports as BOOL.
-- Migrations are only ever added to; never edit an applied one.

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_companies (
    user_id TEXT NOT NULL REFERENCES users (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    PRIMARY KEY (user_id, company_id)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE pos_definitions (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    environment TEXT NOT NULL,
    base_url TEXT NOT NULL,
    credentials_enc TEXT NOT NULL,
    auto_complete INTEGER NOT NULL,
    currencies TEXT NOT NULL,
    installments TEXT NOT NULL,
    onboarding_state TEXT NOT NULL,
    documents TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    version BIGINT NOT NULL,
    last_success_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX pos_definitions_company ON pos_definitions (company_id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    pos_id TEXT NOT NULL REFERENCES pos_definitions (id),
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    installments BIGINT NOT NULL,
    masked_pan TEXT NOT NULL,
    card_fingerprint TEXT NOT NULL,
    card_brand TEXT NOT NULL,
    auth_code TEXT,
    provider_ref TEXT,
    bank_code TEXT,
    message_tr TEXT,
    message_en TEXT,
    channel TEXT NOT NULL,
    order_ref TEXT,
    customer_ref TEXT,
    description TEXT,
    three_d INTEGER NOT NULL,
    return_url TEXT,
    three_d_token TEXT UNIQUE,
    three_d_html TEXT,
    sale_client_ref TEXT NOT NULL UNIQUE,
    authorized_amount BIGINT,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    business_date TEXT NOT NULL,
    review_reason TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT
);

CREATE INDEX payments_company_created ON payments (company_id, created_at, id);
CREATE INDEX payments_status ON payments (status, updated_at);
CREATE INDEX payments_provider_ref ON payments (provider_ref);
CREATE INDEX payments_order_ref ON payments (company_id, order_ref);
CREATE INDEX payments_customer_ref ON payments (company_id, customer_ref);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    operation TEXT NOT NULL,
    client_ref TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    bank_code TEXT,
    message TEXT,
    http_status BIGINT,
    latency_ms BIGINT,
    raw TEXT,
    amount BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE INDEX attempts_payment ON attempts (payment_id, started_at);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    provider_ref TEXT,
    bank_code TEXT,
    message_tr TEXT,
    message_en TEXT,
    client_ref TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_status ON refunds (status);

CREATE TABLE idempotency_keys (
    company_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (company_id, idem_key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT audit_events_company_seq UNIQUE (company_id, seq)
);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
