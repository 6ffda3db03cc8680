-- Pre-authorisation (provizyon): a payment taken with manual capture blocks its amount
-- on the card; it is captured (all or part) or released later, and released by the
-- janitor when its hold period ends uncaptured.
--
-- Whether the payment is a pre-authorisation.
ALTER TABLE payments ADD COLUMN pre_auth INTEGER NOT NULL DEFAULT 0;
-- The amount blocked on the card, in kuruş; `amount` becomes what a capture took.
ALTER TABLE payments ADD COLUMN held_amount BIGINT;
-- Until when the block may stay uncaptured (Unix ms); the janitor releases it after.
ALTER TABLE payments ADD COLUMN hold_until BIGINT;
-- How many days a POS's pre-authorisations may stay uncaptured (a POS setting).
ALTER TABLE pos_definitions ADD COLUMN pre_auth_hold_days BIGINT NOT NULL DEFAULT 7;
-- The janitor's look for holds that ran out reads only open authorisations.
CREATE INDEX payments_open_holds ON payments (hold_until) WHERE status = 'authorized';
