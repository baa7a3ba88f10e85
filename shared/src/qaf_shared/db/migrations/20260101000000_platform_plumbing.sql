-- migrate:up
-- Plumbing every service has in its own schema: idempotent consumer, outbox, dead letters, API tokens.

-- One row per event a consumer applied, written in the same transaction as the change it caused.
CREATE TABLE processed_events (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    event_type    text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events caused by a database change, relayed to Kafka only once their transaction has committed.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    key           text        NOT NULL,
    event_type    text        NOT NULL,
    body          bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- What was sent to a dead-letter topic, for ops to look at (the message itself is on the .dlq topic).
CREATE TABLE dead_letters (
    id            bigserial   PRIMARY KEY,
    consumer      text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    reason        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, topic, partition, "offset")
);

-- Bearer tokens, stored as SHA-256 digests only; each maps to a principal and a role.
CREATE TABLE api_tokens (
    token_id      text        PRIMARY KEY,
    token_sha256  bytea       NOT NULL UNIQUE,
    principal     text        NOT NULL,
    role          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- migrate:down
DROP TABLE api_tokens;
DROP TABLE dead_letters;
DROP TABLE outbox;
DROP TABLE processed_events;
