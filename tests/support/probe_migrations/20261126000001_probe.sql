-- migrate:up
-- A test-only service that exercises the shared plumbing and nothing else.
CREATE TABLE seen (
    event_id    uuid PRIMARY KEY,
    event_type  text NOT NULL,
    key         text NOT NULL
);
-- Not idempotent on purpose: an event applied twice would show here.
CREATE TABLE applications (
    key   text PRIMARY KEY,
    times integer NOT NULL
);

-- migrate:down
DROP TABLE applications;
DROP TABLE seen;
