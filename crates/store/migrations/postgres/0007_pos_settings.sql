-- A POS is its protocol's id and one encrypted settings document drawn from the
-- protocol's own description. The N Kolay columns (base_url, credentials_enc,
-- auto_complete) are kept only until the service moves each row's values into
-- settings_enc (it needs the master key to do so); then they are emptied.
ALTER TABLE pos_definitions RENAME COLUMN provider TO protocol;
ALTER TABLE pos_definitions ADD COLUMN settings_enc TEXT;
