-- A checkout session may offer its customer's cards stored at the provider, and the
-- keeping of the card typed ("Kartımı kaydet"); only with a customer reference, and
-- only when the shop asked for it.
ALTER TABLE checkout_sessions ADD COLUMN stored_cards INTEGER NOT NULL DEFAULT 0;
