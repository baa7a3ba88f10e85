-- migrate:up
-- The allocation service's own model: the case population, the auditor roster, every draw and
-- allocation ever made (with its seed and reasons), reallocations, and completed audits.

DROP TABLE IF EXISTS case_events_seen;

-- Latest state of each case by event time (state_at / opened_at / closed_at are event times).
CREATE TABLE cases (
    case_id          text        PRIMARY KEY,
    service          text        NOT NULL,
    team_id          text        NOT NULL,
    worker_id        text        NOT NULL,
    team_manager_id  text        NOT NULL,
    legal_status     text        NOT NULL,
    opened_on        date        NOT NULL,
    closed_on        date,
    state_at         timestamptz NOT NULL,
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_open_window ON cases (opened_on, closed_on);

CREATE TABLE auditors (
    auditor_id     text        PRIMARY KEY,
    service        text        NOT NULL,
    manages_teams  text[]      NOT NULL DEFAULT '{}',
    is_lead        boolean     NOT NULL DEFAULT false,
    capacity       integer     NOT NULL CHECK (capacity >= 0),
    active         boolean     NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auditors_one_lead_per_service ON auditors (service) WHERE is_lead AND active;

CREATE TABLE absences (
    auditor_id  text NOT NULL REFERENCES auditors ON DELETE CASCADE,
    starts_on   date NOT NULL,
    ends_on     date NOT NULL CHECK (ends_on >= starts_on),
    PRIMARY KEY (auditor_id, starts_on, ends_on)
);

-- One row per draw; a redraw supersedes the month's current draw (both are kept).
CREATE TABLE draws (
    draw_id        text        PRIMARY KEY,
    month          text        NOT NULL,
    seq            integer     NOT NULL,
    as_of          date        NOT NULL,
    seed           bigint      NOT NULL,
    settings       jsonb       NOT NULL,
    requested_by   text        NOT NULL,
    trigger        text        NOT NULL,
    requested      integer     NOT NULL,
    target         integer     NOT NULL,
    quotas         jsonb       NOT NULL,
    open_by_service jsonb      NOT NULL,
    shortfall      jsonb       NOT NULL,
    stats          jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    superseded_at  timestamptz,
    superseded_by  text        REFERENCES draws DEFERRABLE INITIALLY DEFERRED,
    UNIQUE (month, seq)
);
CREATE UNIQUE INDEX draws_one_current_per_month ON draws (month) WHERE superseded_at IS NULL;

CREATE TABLE allocations (
    audit_id          text        PRIMARY KEY,
    draw_id           text        NOT NULL REFERENCES draws,
    month             text        NOT NULL,
    case_id           text        NOT NULL,
    service           text        NOT NULL,
    team_id           text        NOT NULL,
    team_manager_id   text        NOT NULL,
    worker_id         text        NOT NULL,
    auditor_id        text        NOT NULL,
    original_auditor_id text      NOT NULL,
    lead_auditor_id   text        NOT NULL,
    due_on            date        NOT NULL,
    draw_position     integer     NOT NULL,
    stratum_position  integer     NOT NULL,
    explanation       text        NOT NULL,
    withdrawn         boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocations_by_month ON allocations (month);
CREATE INDEX allocations_by_case ON allocations (case_id);
CREATE INDEX allocations_open_by_auditor ON allocations (auditor_id) WHERE NOT withdrawn;

CREATE TABLE reallocations (
    id                   bigserial   PRIMARY KEY,
    audit_id             text        NOT NULL REFERENCES allocations,
    previous_auditor_id  text        NOT NULL,
    auditor_id           text        NOT NULL,
    lead_auditor_id      text        NOT NULL,
    effective_on         date        NOT NULL,
    explanation          text        NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reallocations_by_audit ON reallocations (audit_id);

-- Completed audits (from audit-completed), for the yearly target and the "audited recently" rule.
CREATE TABLE completions (
    audit_id      text        PRIMARY KEY,
    case_id       text        NOT NULL,
    service       text        NOT NULL,
    auditor_id    text        NOT NULL,
    month         text        NOT NULL,
    completed_at  timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX completions_by_case ON completions (case_id);
CREATE INDEX completions_by_month ON completions (month);

-- migrate:down
DROP TABLE completions;
DROP TABLE reallocations;
DROP TABLE allocations;
DROP TABLE draws;
DROP TABLE absences;
DROP TABLE auditors;
DROP TABLE cases;
CREATE TABLE case_events_seen (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    entity_key   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
