-- Stored cards (issue 14): cards kept in a provider's vault for one customer of a
-- company. We keep the provider's token and transaction id, the mask (first six and last
-- four digits) and what the customer called the card; never the card number or CVV.
--
-- `state` is `active`, `deleting` (the provider refused or could not be reached when
-- the card was deleted: kept and shown, and a background pass tries again at
-- `next_try_at`, Unix ms, `delete_tries` counting the tries and `delete_error` saying the
-- last reason) or `deleted`. `expiry_month` / `expiry_year` are what the request gave
-- (the provider's list has no expiry), NULL for a card learnt from the provider's list.
CREATE TABLE stored_cards (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    pos_id TEXT NOT NULL REFERENCES pos_definitions (id),
    customer_ref TEXT NOT NULL,
    provider_token TEXT NOT NULL,
    provider_tran_id TEXT NOT NULL,
    masked_pan TEXT NOT NULL,
    brand TEXT NOT NULL,
    issuer TEXT NOT NULL,
    alias TEXT NOT NULL,
    expiry_month BIGINT,
    expiry_year BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    delete_tries BIGINT NOT NULL DEFAULT 0,
    delete_error TEXT,
    next_try_at BIGINT,
    CONSTRAINT stored_cards_pos_token UNIQUE (pos_id, customer_ref, provider_token)
);

CREATE INDEX stored_cards_customer ON stored_cards (company_id, customer_ref, created_at);
CREATE INDEX stored_cards_deleting ON stored_cards (next_try_at) WHERE state = 'deleting';

-- A 3D payment that asked the provider to keep its card for a customer once approved
-- (`save_card`): written before the provider hears of the sale, and pointed at the
-- stored card (`stored_card_id`) once the approved card is found in the provider's list.
-- When it is not found at once (the provider not answering, or the payment approved
-- later by the janitor), a background pass looks again at `next_try_at` (Unix ms; NULL:
-- as soon as the payment is approved), `tries` counting the looks.
CREATE TABLE card_saves (
    payment_id TEXT PRIMARY KEY REFERENCES payments (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    customer_ref TEXT NOT NULL,
    alias TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    stored_card_id TEXT REFERENCES stored_cards (id),
    tries BIGINT NOT NULL DEFAULT 0,
    next_try_at BIGINT
);
