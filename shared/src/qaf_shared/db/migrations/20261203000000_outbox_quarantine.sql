-- migrate:up
-- Outbox rows Kafka refused for good (too large, a corrupt record, an invalid topic), moved aside with
-- their reason so the rows behind them keep flowing; `qaf-<service> outbox requeue <id>` moves one back.
-- The columns are the outbox's (id is the row's id there), plus why and when.
CREATE TABLE outbox_quarantine (
    id              bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL,
    topic           text        NOT NULL,
    key             text        NOT NULL,
    event_type      text        NOT NULL,
    body            bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    published_at    timestamptz,
    reason          text        NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);

-- Pruning deletes published rows older than the retention, oldest first, in bounded batches: this finds
-- them without reading the whole table. Not built CONCURRENTLY, which cannot share a file with the table
-- above (dbmate sends a file as one batch of statements, which PostgreSQL runs as one transaction): writes
-- to the outbox wait while it is built, seconds for millions of rows.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- migrate:down
DROP INDEX outbox_published;
DROP TABLE outbox_quarantine;
