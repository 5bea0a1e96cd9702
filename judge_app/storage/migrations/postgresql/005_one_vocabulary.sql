-- PostgreSQL twin of ../005_one_vocabulary.sql: one vocabulary (docs/glossary.md), and
-- enumerations the database enforces. PostgreSQL renames columns and adds CHECK constraints
-- in place, so no table is rebuilt; the end state (names, types, constraints) is DuckDB's.
-- The migration runs in one transaction: a value a new constraint refuses rolls all of it back.

-- tasks: a task's provenance note was stored under `source` (see the DuckDB file).
UPDATE tasks SET config = CAST(
    (CAST(config AS JSONB) - 'source')
    || jsonb_build_object('provenance', CAST(config AS JSONB) -> 'source') AS JSON)
WHERE jsonb_exists(CAST(config AS JSONB), 'source');

ALTER TABLE pairs ADD CONSTRAINT pairs_gold_outcome_check
    CHECK (gold_outcome IN ('a', 'b', 'tie', 'both_bad'));

ALTER TABLE raters RENAME COLUMN kind TO source;
ALTER TABLE raters ADD CONSTRAINT raters_source_check CHECK (source IN ('human', 'judge'));

ALTER TABLE assignments RENAME COLUMN kind TO purpose;
ALTER TABLE assignments ADD CONSTRAINT assignments_left_side_check
    CHECK (left_side IN ('a', 'b'));
ALTER TABLE assignments ADD CONSTRAINT assignments_purpose_check
    CHECK (purpose IN ('normal', 'gold', 'retest'));

ALTER TABLE verdicts ADD CONSTRAINT verdicts_source_check CHECK (source IN ('human', 'judge'));
ALTER TABLE verdicts ADD CONSTRAINT verdicts_left_side_check CHECK (left_side IN ('a', 'b'));
ALTER TABLE verdicts ADD CONSTRAINT verdicts_outcome_check
    CHECK (outcome IN ('a', 'b', 'tie', 'both_bad'));
ALTER TABLE verdicts ADD CONSTRAINT verdicts_raw_choice_check
    CHECK (raw_choice IN ('left', 'right', 'tie', 'both_bad', 'skip', 'withdrawn'));
ALTER TABLE verdicts ADD CONSTRAINT verdicts_strength_check CHECK (strength IN (1, 2));

ALTER TABLE judge_runs RENAME COLUMN judge_name TO rater_id;
ALTER TABLE judge_runs ADD CONSTRAINT judge_runs_status_check
    CHECK (status IN ('running', 'done', 'stopped', 'failed'));

ALTER TABLE judge_calls RENAME COLUMN first_side TO left_side;
ALTER TABLE judge_calls RENAME COLUMN shown_outcome TO raw_choice;
UPDATE judge_calls SET raw_choice = CASE raw_choice WHEN 'a' THEN 'left' WHEN 'b' THEN 'right'
    ELSE raw_choice END;
ALTER TABLE judge_calls ADD CONSTRAINT judge_calls_left_side_check CHECK (left_side IN ('a', 'b'));
ALTER TABLE judge_calls ADD CONSTRAINT judge_calls_raw_choice_check
    CHECK (raw_choice IN ('left', 'right', 'tie'));
ALTER TABLE judge_calls ADD CONSTRAINT judge_calls_strength_check CHECK (strength IN (1, 2));

ALTER TABLE escalations RENAME COLUMN judge_name TO rater_id;
ALTER TABLE escalations ADD CONSTRAINT escalations_reason_check
    CHECK (reason IN ('inconsistent', 'unsure'));
