-- migrate:up
-- The skeleton's placeholder goes; the service keeps what it needs of cases, and its own model.
DROP TABLE IF EXISTS case_events_seen;

-- Cases known from the case systems (qaf.cases): enough to refuse an unknown or closed case and
-- to address an escalation to the case's team and manager. The latest by event time wins.
CREATE TABLE cases (
    case_id          text        PRIMARY KEY,
    service          text,
    team_id          text,
    team_manager_id  text,
    opened_on        date,
    state_at         timestamptz,          -- event time of the opened/updated event applied
    closed_on        date,
    closed_at        timestamptz           -- event time of the case-closed event applied
);

CREATE TABLE escalations (
    escalation_id         text        PRIMARY KEY,
    case_id               text        NOT NULL,
    service               text        NOT NULL,
    raised_by_role        text        NOT NULL,
    raised_by_id          text        NOT NULL,
    reason                text        NOT NULL,
    theme                 text        NOT NULL,
    addressed_to_team_id  text        NOT NULL,
    raised_on             date        NOT NULL,
    status                text        NOT NULL CHECK (status IN ('open', 'resolved', 'withdrawn')),
    stage                 text        NOT NULL,
    due_on                date        NOT NULL,
    outcome               text,
    closed_on             date,
    within_timescale      boolean,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX escalations_open_by_due ON escalations (due_on) WHERE status = 'open';
CREATE INDEX escalations_by_case ON escalations (case_id);

-- One row per stage an escalation went through.
CREATE TABLE escalation_steps (
    escalation_id            text    NOT NULL REFERENCES escalations ON DELETE CASCADE,
    seq                      integer NOT NULL,
    stage                    text    NOT NULL,
    started_on               date    NOT NULL,
    due_on                   date    NOT NULL,
    addressed_to_manager_id  text    NOT NULL,
    ended_on                 date,
    ended_by                 text,
    PRIMARY KEY (escalation_id, seq)
);

-- A stage reported overdue: at most once per escalation and stage, whatever restarts in between.
CREATE TABLE escalation_overdue (
    escalation_id  text        NOT NULL REFERENCES escalations ON DELETE CASCADE,
    stage          text        NOT NULL,
    due_on         date        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (escalation_id, stage)
);

CREATE TABLE complaints (
    complaint_id  text        PRIMARY KEY,
    case_id       text,
    service       text        NOT NULL,
    category      text        NOT NULL,
    theme         text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per stage of the procedure a complaint reached: timeliness is kept per stage.
CREATE TABLE complaint_stages (
    complaint_id      text    NOT NULL REFERENCES complaints ON DELETE CASCADE,
    stage             text    NOT NULL,
    received_on       date    NOT NULL,
    working_days      integer NOT NULL,
    due_on            date    NOT NULL,
    resolved_on       date,
    outcome           text,
    within_timescale  boolean,
    escalated_on      date,
    PRIMARY KEY (complaint_id, stage)
);

CREATE TABLE complaint_extensions (
    complaint_id       text    NOT NULL,
    stage              text    NOT NULL,
    seq                integer NOT NULL,
    extended_on        date    NOT NULL,
    from_working_days  integer NOT NULL,
    to_working_days    integer NOT NULL,
    reason             text    NOT NULL,
    PRIMARY KEY (complaint_id, stage, seq),
    FOREIGN KEY (complaint_id, stage) REFERENCES complaint_stages ON DELETE CASCADE
);

-- Free-text notes given with a request. Kept here only: never on Kafka, never in logs.
CREATE TABLE notes (
    id            bigserial   PRIMARY KEY,
    subject_kind  text        NOT NULL CHECK (subject_kind IN ('escalation', 'complaint')),
    subject_id    text        NOT NULL,
    action        text        NOT NULL,
    on_date       date        NOT NULL,
    author        text        NOT NULL,
    note          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_by_subject ON notes (subject_kind, subject_id);

-- The latest event date the service has been given (requests and case events), never beyond its
-- clock's today: the background overdue sweep runs as of this date, so a simulated year whose
-- dates move faster than the wall clock gets its overdue events as its dates pass.
CREATE TABLE event_clock (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    latest_date   date    NOT NULL
);

-- migrate:down
DROP TABLE event_clock;
DROP TABLE notes;
DROP TABLE complaint_extensions;
DROP TABLE complaint_stages;
DROP TABLE complaints;
DROP TABLE escalation_overdue;
DROP TABLE escalation_steps;
DROP TABLE escalations;
DROP TABLE cases;
CREATE TABLE case_events_seen (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    entity_key   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
