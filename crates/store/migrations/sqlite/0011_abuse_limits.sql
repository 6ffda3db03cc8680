-- Card testing and abuse limits (issue 18).
--
-- The cardholder's own IP (hosted page and payment links, or what an API caller says
-- it is), counted by the per-IP velocity limit; NULL when unknown (back office).
ALTER TABLE payments ADD COLUMN client_ip TEXT;
-- A checkout session locked after too many unsuccessful attempts (Unix ms), until its
-- owner reopens it.
ALTER TABLE checkout_sessions ADD COLUMN locked_at BIGINT;
-- The velocity checks count recent declines of one card fingerprint and of one client
-- IP: partial indexes over declined payments only, so each check reads a handful of
-- index entries and the indexes stay small (most payments are approved).
CREATE INDEX payments_declines_by_card ON payments (card_fingerprint, created_at) WHERE status = 'declined';
CREATE INDEX payments_declines_by_ip ON payments (client_ip, created_at) WHERE status = 'declined' AND client_ip IS NOT NULL;
