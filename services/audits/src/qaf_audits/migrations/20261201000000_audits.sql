-- migrate:up
-- The audits service's own model. The skeleton's record of events seen is replaced by it.
DROP TABLE IF EXISTS allocations_seen;

-- Templates as versioned data. A (template_id, version) row never changes once written.
CREATE TABLE templates (
    template_id   text        NOT NULL,
    version       integer     NOT NULL CHECK (version >= 1),
    kind          text        NOT NULL CHECK (kind IN ('light-touch', 'themed')),
    title         text        NOT NULL,
    definition    jsonb       NOT NULL,
    digest        text        NOT NULL,
    source        text        NOT NULL CHECK (source IN ('package', 'api')),
    loaded_by     text,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

-- Allocated audits: from `audit-allocated` (light-touch sample) or a themed audit's case list.
CREATE TABLE audits (
    audit_id            text        PRIMARY KEY,
    case_id             text        NOT NULL,
    service             text        NOT NULL,
    team_id             text        NOT NULL,
    auditor_id          text        NOT NULL,
    lead_auditor_id     text        NOT NULL,
    team_manager_id     text,
    month               text,
    due_on              date        NOT NULL,
    template_id         text        NOT NULL,
    -- Pinned when the audit is allocated (or, if the template was not loaded yet, when submitted).
    template_version    integer,
    allocated_at        timestamptz NOT NULL,
    origin              text        NOT NULL CHECK (origin IN ('allocation', 'themed')),
    correlation_id      uuid,
    status              text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    -- Set once, with the `audit-overdue` event in the same transaction: never flagged twice.
    overdue_flagged_at  timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES templates (template_id, version)
);
CREATE INDEX audits_pending_due ON audits (due_on) WHERE status = 'pending' AND overdue_flagged_at IS NULL;
CREATE INDEX audits_auditor ON audits (auditor_id, status);
CREATE INDEX audits_lead ON audits (lead_auditor_id, status);

-- Each change of auditor, for the audit trail.
CREATE TABLE reallocations (
    id                  bigserial   PRIMARY KEY,
    audit_id            text        NOT NULL REFERENCES audits (audit_id),
    previous_auditor_id text        NOT NULL,
    auditor_id          text        NOT NULL,
    due_on              date        NOT NULL,
    occurred_at         timestamptz NOT NULL
);

-- The completed audit. Free text (summary, evidence) lives here and nowhere else.
CREATE TABLE completions (
    audit_id                    text        PRIMARY KEY REFERENCES audits (audit_id),
    template_id                 text        NOT NULL,
    template_version            integer     NOT NULL,
    auditor_id                  text        NOT NULL,
    submitted_by                text        NOT NULL,
    submitted_role              text        NOT NULL,
    completed_at                timestamptz NOT NULL,
    overall_grade               text        NOT NULL,
    social_worker_participated  boolean     NOT NULL,
    parents_spoken_to           boolean     NOT NULL,
    child_spoken_to             boolean     NOT NULL,
    safeguarding_concern        boolean     NOT NULL,
    summary                     text        NOT NULL DEFAULT '',
    recorded_at                 timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES templates (template_id, version)
);

CREATE TABLE completion_domains (
    audit_id  text NOT NULL REFERENCES completions (audit_id),
    position  integer NOT NULL,
    domain    text NOT NULL,
    grade     text NOT NULL,
    evidence  text NOT NULL DEFAULT '',
    PRIMARY KEY (audit_id, domain)
);

CREATE TABLE completion_themes (
    audit_id  text NOT NULL,
    domain    text NOT NULL,
    theme     text NOT NULL,
    severity  text NOT NULL,
    PRIMARY KEY (audit_id, domain, theme),
    FOREIGN KEY (audit_id, domain) REFERENCES completion_domains (audit_id, domain)
);

CREATE TABLE completion_answers (
    audit_id     text NOT NULL REFERENCES completions (audit_id),
    position     integer NOT NULL,
    question_id  text NOT NULL,
    theme        text NOT NULL,
    answer       text NOT NULL,
    PRIMARY KEY (audit_id, question_id)
);

-- Quality control: poor practice routed to the responsible manager, tracked until acknowledged.
CREATE TABLE practice_concerns (
    concern_id       text        PRIMARY KEY,
    audit_id         text        NOT NULL UNIQUE REFERENCES audits (audit_id),
    case_id          text        NOT NULL,
    service          text        NOT NULL,
    team_id          text        NOT NULL,
    team_manager_id  text        NOT NULL,
    reason           text        NOT NULL,
    domains          text[]      NOT NULL DEFAULT '{}',
    raised_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    response         text
);
CREATE INDEX practice_concerns_open ON practice_concerns (team_manager_id) WHERE acknowledged_at IS NULL;

-- Moderation: the sampled completed audits and the moderator's independent grades.
CREATE TABLE moderations (
    audit_id      text        PRIMARY KEY REFERENCES completions (audit_id),
    sample_point  double precision NOT NULL,
    share         double precision NOT NULL,
    seed          text        NOT NULL,
    sampled_at    timestamptz NOT NULL DEFAULT now(),
    moderator_id  text,
    moderated_at  timestamptz
);

CREATE TABLE moderation_grades (
    audit_id  text NOT NULL REFERENCES moderations (audit_id),
    domain    text NOT NULL,
    grade     text NOT NULL,
    PRIMARY KEY (audit_id, domain)
);

-- The event-time clock: the latest `occurred_at` of the events this service has consumed.
CREATE TABLE event_clock (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    high_water  timestamptz NOT NULL
);

-- migrate:down
DROP TABLE event_clock;
DROP TABLE moderation_grades;
DROP TABLE moderations;
DROP TABLE practice_concerns;
DROP TABLE completion_answers;
DROP TABLE completion_themes;
DROP TABLE completion_domains;
DROP TABLE completions;
DROP TABLE reallocations;
DROP TABLE audits;
DROP TABLE templates;
CREATE TABLE allocations_seen (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    entity_key   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
