-- migrate:up
-- Keys here are codes and opaque identifiers (ASCII), not prose: they compare byte by byte. Under the
-- database's locale-aware collation every index probe and sort on them calls strcoll, which made the
-- counter upserts of a replay take twice as long (bench/bench_reporting.py). Orders are unchanged for
-- ASCII codes.
ALTER TABLE monthly_counts
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN service TYPE text COLLATE "C",
    ALTER COLUMN theme TYPE text COLLATE "C",
    ALTER COLUMN k1 TYPE text COLLATE "C",
    ALTER COLUMN k2 TYPE text COLLATE "C";
ALTER TABLE counted_entities
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN entity_id TYPE text COLLATE "C";
ALTER TABLE cases
    ALTER COLUMN case_id TYPE text COLLATE "C",
    ALTER COLUMN service TYPE text COLLATE "C";
ALTER TABLE dirty_cells
    ALTER COLUMN family TYPE text COLLATE "C",
    ALTER COLUMN service TYPE text COLLATE "C";
ALTER TABLE published_figures
    ALTER COLUMN theme TYPE text COLLATE "C",
    ALTER COLUMN measure TYPE text COLLATE "C",
    ALTER COLUMN question_id TYPE text COLLATE "C",
    ALTER COLUMN category TYPE text COLLATE "C",
    ALTER COLUMN service TYPE text COLLATE "C";

-- migrate:down
ALTER TABLE published_figures
    ALTER COLUMN theme TYPE text COLLATE "default",
    ALTER COLUMN measure TYPE text COLLATE "default",
    ALTER COLUMN question_id TYPE text COLLATE "default",
    ALTER COLUMN category TYPE text COLLATE "default",
    ALTER COLUMN service TYPE text COLLATE "default";
ALTER TABLE dirty_cells
    ALTER COLUMN family TYPE text COLLATE "default",
    ALTER COLUMN service TYPE text COLLATE "default";
ALTER TABLE cases
    ALTER COLUMN case_id TYPE text COLLATE "default",
    ALTER COLUMN service TYPE text COLLATE "default";
ALTER TABLE counted_entities
    ALTER COLUMN kind TYPE text COLLATE "default",
    ALTER COLUMN entity_id TYPE text COLLATE "default";
ALTER TABLE monthly_counts
    ALTER COLUMN kind TYPE text COLLATE "default",
    ALTER COLUMN service TYPE text COLLATE "default",
    ALTER COLUMN theme TYPE text COLLATE "default",
    ALTER COLUMN k1 TYPE text COLLATE "default",
    ALTER COLUMN k2 TYPE text COLLATE "default";
