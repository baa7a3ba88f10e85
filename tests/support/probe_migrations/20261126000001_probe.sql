-- migrate:up
-- A test-only service that exercises the shared plumbing and nothing else.
-- One row per application of an event, with no key: an event applied twice shows as two rows (a
-- primary key here would turn a second application into an error, and hide it).
CREATE TABLE seen (
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    key         text NOT NULL,
    instance    text NOT NULL DEFAULT 'unnamed',
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Not idempotent on purpose: an event applied twice would show here.
CREATE TABLE applications (
    key   text PRIMARY KEY,
    times integer NOT NULL
);

-- migrate:down
DROP TABLE applications;
DROP TABLE seen;
