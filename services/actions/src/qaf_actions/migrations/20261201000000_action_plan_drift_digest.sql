-- migrate:up
DROP TABLE IF EXISTS theme_events_seen;

-- The action plan, one row per version; the highest version is in force. Never updated in place.
CREATE TABLE plan_versions (
    version     integer     PRIMARY KEY,
    plan        jsonb       NOT NULL,
    source      text        NOT NULL,            -- 'file:<sha256>' or 'api'
    changed_by  text        NOT NULL,            -- opaque principal id
    summary     text        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- The latest theme-updated figure per key (as a subscriber builds its view from the topic).
CREATE TABLE theme_figures (
    theme          text        NOT NULL,
    measure        text        NOT NULL,
    question_id    text        NOT NULL DEFAULT '',
    category       text        NOT NULL DEFAULT '',
    service        text        NOT NULL,
    window_months  integer     NOT NULL,
    period_end     text        NOT NULL,
    count          integer     NOT NULL,
    denominator    integer     NOT NULL,
    rate           double precision,
    event_id       uuid        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (theme, measure, question_id, category, service, window_months, period_end)
);

-- Milestone progress reported by action owners. The note stays here: it never goes on Kafka.
CREATE TABLE milestone_updates (
    event_id     uuid        PRIMARY KEY,
    area_id      text        NOT NULL,
    action_id    text        NOT NULL,
    status       text        NOT NULL,
    updated_by   text        NOT NULL,
    updated_on   date        NOT NULL,
    note         text,
    applied      boolean     NOT NULL DEFAULT false,   -- seen back from the topic by the consumer
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX milestone_updates_action ON milestone_updates (action_id, updated_on);

-- Event time: the latest occurred_at seen on the consumed topics (the clock of a simulated year).
CREATE TABLE event_clock (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    first_at     timestamptz NOT NULL,
    latest_at    timestamptz NOT NULL
);

-- What is in drift now, one row per (area, kind, subject); flagged once, cleared once.
CREATE TABLE drift_state (
    area_id       text        NOT NULL,
    kind          text        NOT NULL,
    subject_id    text        NOT NULL,
    indicator_id  text,
    since         date        NOT NULL,
    explanation   text        NOT NULL,
    PRIMARY KEY (area_id, kind, subject_id)
);

CREATE TABLE drift_evaluations (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    as_of        date        NOT NULL,
    plan_version integer     NOT NULL,
    evaluated_at timestamptz NOT NULL DEFAULT now()
);

-- Every flag and clear emitted, for the digest and the API.
CREATE TABLE drift_events (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    change        text        NOT NULL CHECK (change IN ('flagged', 'cleared')),
    area_id       text        NOT NULL,
    kind          text        NOT NULL,
    subject_id    text        NOT NULL,
    indicator_id  text,
    status        text        NOT NULL,
    as_of         date        NOT NULL,
    explanation   text        NOT NULL,
    figures       jsonb       NOT NULL DEFAULT '{}',
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drift_events_as_of ON drift_events (as_of);

-- Operational work for the digest, from the audits, escalations, complaints and allocations topics.
CREATE TABLE ops_audits (
    audit_id      text PRIMARY KEY,
    month         text,
    allocated_on  date,
    due_on        date,
    completed_on  date,
    overdue_on    date
);
CREATE TABLE ops_concerns (
    concern_id  text PRIMARY KEY,
    service     text NOT NULL,
    reason      text NOT NULL,
    raised_on   date NOT NULL
);
CREATE TABLE ops_escalations (
    escalation_id     text PRIMARY KEY,
    raised_on         date,
    due_on            date,
    resolved_on       date,
    within_timescale  boolean,
    overdue_on        date
);
CREATE TABLE ops_complaints (
    complaint_id      text PRIMARY KEY,
    category          text NOT NULL,
    received_on       date,
    due_on            date,
    resolved_on       date,
    within_timescale  boolean
);

-- Board digests issued: each row was (or is being) sent; `forced` marks a deliberate re-issue.
CREATE TABLE digests (
    digest_id    text        PRIMARY KEY,
    period       text        NOT NULL,
    board_date   date        NOT NULL,
    as_of        date        NOT NULL,
    issued_at    timestamptz NOT NULL,
    forced       boolean     NOT NULL DEFAULT false,
    html         text        NOT NULL,
    pdf          bytea       NOT NULL,
    pdf_sha256   text        NOT NULL,
    summary      jsonb       NOT NULL,
    recipients   text[]      NOT NULL DEFAULT '{}',
    sent_at      timestamptz
);
CREATE INDEX digests_period ON digests (period, issued_at);

-- migrate:down
DROP TABLE digests;
DROP TABLE ops_complaints;
DROP TABLE ops_escalations;
DROP TABLE ops_concerns;
DROP TABLE ops_audits;
DROP TABLE drift_events;
DROP TABLE drift_evaluations;
DROP TABLE drift_state;
DROP TABLE event_clock;
DROP TABLE milestone_updates;
DROP TABLE theme_figures;
DROP TABLE plan_versions;
CREATE TABLE theme_events_seen (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    entity_key   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
