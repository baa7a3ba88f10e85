-- migrate:up
-- The consumer name is a code: compared byte by byte, every idempotency check (a probe of this primary
-- key per event) skips the locale-aware strcoll of the database's default collation.
ALTER TABLE processed_events ALTER COLUMN consumer TYPE text COLLATE "C";

-- migrate:down
ALTER TABLE processed_events ALTER COLUMN consumer TYPE text COLLATE "default";
