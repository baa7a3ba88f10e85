-- migrate:up
-- The reporting model: monthly counters per kind x service x month (by event time), the facts that
-- must be counted once per entity, the cases behind the open-caseload counters, and the state of the
-- theme-updated publication (cells waiting to be recomputed, the last value published per figure).
DROP TABLE IF EXISTS events_seen;

CREATE TABLE monthly_counts (
    kind      text    NOT NULL,
    service   text    NOT NULL,
    month     integer NOT NULL,          -- year * 12 + (month - 1)
    theme     text    NOT NULL DEFAULT '',
    k1        text    NOT NULL DEFAULT '',
    k2        text    NOT NULL DEFAULT '',
    n         bigint  NOT NULL,
    PRIMARY KEY (kind, service, month, theme, k1, k2)
);
CREATE INDEX monthly_counts_by_month ON monthly_counts (month, kind);

CREATE TABLE counted_entities (
    kind       text NOT NULL,
    entity_id  text NOT NULL,
    PRIMARY KEY (kind, entity_id)
);

CREATE TABLE cases (
    case_id       text PRIMARY KEY,
    service       text,
    opened_month  integer,
    closed_month  integer
);

CREATE TABLE dirty_cells (
    family         text        NOT NULL,
    service        text        NOT NULL,
    month          integer     NOT NULL,
    last_event_at  timestamptz NOT NULL,
    PRIMARY KEY (family, service, month)
);

CREATE TABLE published_figures (
    theme           text             NOT NULL,
    measure         text             NOT NULL,
    question_id     text             NOT NULL DEFAULT '',
    category        text             NOT NULL DEFAULT '',
    service         text             NOT NULL,
    window_months   integer          NOT NULL,
    period_end      integer          NOT NULL,
    count           bigint           NOT NULL,
    denominator     bigint           NOT NULL,
    rate            double precision,
    published_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (service, window_months, period_end, measure, theme, question_id, category)
);

-- The latest month any event fell in (figures are not published past it).
CREATE TABLE watermark (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    month  integer NOT NULL
);

-- migrate:down
DROP TABLE watermark;
DROP TABLE published_figures;
DROP TABLE dirty_cells;
DROP TABLE cases;
DROP TABLE counted_entities;
DROP TABLE monthly_counts;
CREATE TABLE events_seen (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    entity_key   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
