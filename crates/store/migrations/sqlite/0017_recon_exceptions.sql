-- A run's exceptions (every item not matched) in order: a run's page, its count of open
-- exceptions and its force-match candidates read these without walking the matched
-- items, which are nearly all of a large run's.
CREATE INDEX recon_items_exceptions ON recon_items (run_id, seq) WHERE class <> 'matched';
