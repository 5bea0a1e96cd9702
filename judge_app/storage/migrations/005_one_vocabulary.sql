-- One vocabulary (docs/glossary.md), and enumerations the database enforces.
--
-- Renames: raters.kind -> source; assignments.kind -> purpose; judge_runs.judge_name and
-- escalations.judge_name -> rater_id; judge_calls.first_side -> left_side; judge_calls.
-- shown_outcome (a = shown first | b | tie) -> raw_choice (left | right | tie, as verdicts say).
-- DuckDB cannot add a CHECK constraint to an existing table, so each table that gains one is
-- rebuilt: renamed aside, made again with the constraints, filled back with every row as it
-- was (same ids, same order of columns), the old one dropped. The migration runs in one
-- transaction: a value the new constraints refuse rolls all of it back.
-- Timestamps stay TIMESTAMP and hold UTC: the connection's time zone is pinned to UTC.

-- tasks: a task's provenance note was stored under `source`. The content hash is unchanged:
-- it is computed over the old spelling (services/imports.py), so a re-import still matches.
UPDATE tasks SET config = json_merge_patch(
    config, json_object('provenance', config->>'$.source', 'source', NULL))
WHERE json_exists(config, '$.source');

DROP VIEW active_verdicts;
DROP VIEW standing_verdicts;

-- pairs ------------------------------------------------------------------------------------
ALTER TABLE pairs RENAME TO pairs_v4;
CREATE TABLE pairs (
    pair_id       VARCHAR PRIMARY KEY,      -- deterministic: hash of task and both output ids
    task_id       VARCHAR NOT NULL,
    prompt_id     VARCHAR NOT NULL,
    output_a      VARCHAR NOT NULL,         -- canonical order: model_a sorts before model_b
    output_b      VARCHAR NOT NULL,
    model_a       VARCHAR NOT NULL,
    model_b       VARCHAR NOT NULL,
    gold_outcome  VARCHAR                   -- known answer for gold pairs, else NULL
        CHECK (gold_outcome IN ('a', 'b', 'tie', 'both_bad'))
);
INSERT INTO pairs SELECT pair_id, task_id, prompt_id, output_a, output_b, model_a, model_b,
    gold_outcome FROM pairs_v4;
DROP TABLE pairs_v4;

-- raters: kind -> source --------------------------------------------------------------------
ALTER TABLE raters RENAME TO raters_v4;
CREATE TABLE raters (
    rater_id      VARCHAR PRIMARY KEY,      -- a person's name or a judge's name
    source        VARCHAR NOT NULL CHECK (source IN ('human', 'judge')),
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    token_hash    VARCHAR UNIQUE,           -- sha256 of the login token; never the token
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO raters SELECT rater_id, kind, is_admin, token_hash, disabled, created_at
    FROM raters_v4;
DROP TABLE raters_v4;

-- assignments: kind -> purpose ---------------------------------------------------------------
ALTER TABLE assignments RENAME TO assignments_v4;
CREATE TABLE assignments (
    assignment_id VARCHAR PRIMARY KEY,
    task_id       VARCHAR NOT NULL,
    pair_id       VARCHAR NOT NULL,
    rater_id      VARCHAR NOT NULL,
    left_side     VARCHAR NOT NULL CHECK (left_side IN ('a', 'b')),  -- canonical side shown left
    purpose       VARCHAR NOT NULL DEFAULT 'normal'
        CHECK (purpose IN ('normal', 'gold', 'retest')),
    retest_of     VARCHAR,                  -- for a swap re-test: the assignment it repeats
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO assignments SELECT assignment_id, task_id, pair_id, rater_id, left_side, kind,
    retest_of, created_at FROM assignments_v4;
DROP TABLE assignments_v4;

-- verdicts ----------------------------------------------------------------------------------
ALTER TABLE verdicts RENAME TO verdicts_v4;
CREATE TABLE verdicts (
    verdict_id        VARCHAR PRIMARY KEY,      -- made by the caller: a double submit is one row
    task_id           VARCHAR NOT NULL,
    pair_id           VARCHAR NOT NULL,
    prompt_id         VARCHAR NOT NULL,
    assignment_id     VARCHAR,
    rater_id          VARCHAR NOT NULL,
    source            VARCHAR NOT NULL CHECK (source IN ('human', 'judge')),
    output_a          VARCHAR NOT NULL,
    output_b          VARCHAR NOT NULL,
    model_a           VARCHAR NOT NULL,
    model_b           VARCHAR NOT NULL,
    left_side         VARCHAR CHECK (left_side IN ('a', 'b')),  -- NULL when unknown
    outcome           VARCHAR                   -- NULL on a skip or retraction
        CHECK (outcome IN ('a', 'b', 'tie', 'both_bad')),
    raw_choice        VARCHAR                   -- as clicked, in screen terms (withdrawn:
        CHECK (raw_choice IN ('left', 'right', 'tie', 'both_bad', 'skip', 'withdrawn')),  -- undo
                                                -- of a vote whose models were revealed)
    strength          SMALLINT CHECK (strength IN (1, 2)),  -- 1 better, 2 much better
    criteria          JSON,                     -- {criterion: outcome}
    rationale         VARCHAR,
    flagged           BOOLEAN NOT NULL DEFAULT false,
    probability       DOUBLE,                   -- judge's P(a better), when known
    consistent        BOOLEAN,                  -- judge: both orders agreed
    duration_ms       BIGINT,
    judge_run_id      VARCHAR,
    judge_model       VARCHAR,
    judge_endpoint    VARCHAR,
    judge_template    VARCHAR,
    judge_config_hash VARCHAR,
    input_tokens      BIGINT,
    output_tokens     BIGINT,
    cost_usd          DOUBLE,
    latency_ms        DOUBLE,
    raw_answer        VARCHAR,
    retracts          VARCHAR,                  -- verdict_id this row takes back
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO verdicts SELECT * FROM verdicts_v4;
DROP TABLE verdicts_v4;

CREATE VIEW standing_verdicts AS
SELECT v.* FROM verdicts v
WHERE v.retracts IS NULL
  AND v.verdict_id NOT IN (SELECT retracts FROM verdicts WHERE retracts IS NOT NULL);

CREATE VIEW active_verdicts AS
SELECT * FROM standing_verdicts WHERE outcome IS NOT NULL;

-- judge_runs: judge_name -> rater_id -------------------------------------------------------
ALTER TABLE judge_runs RENAME TO judge_runs_v4;
CREATE TABLE judge_runs (
    run_id        VARCHAR PRIMARY KEY,
    task_id       VARCHAR NOT NULL,
    rater_id      VARCHAR NOT NULL,          -- the judge
    config_hash   VARCHAR NOT NULL,
    config        JSON NOT NULL,             -- the judge config (the key's variable name, never the key)
    status        VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    total_calls   BIGINT NOT NULL,
    cached_calls  BIGINT NOT NULL DEFAULT 0,
    done_calls    BIGINT NOT NULL DEFAULT 0,
    failed_calls  BIGINT NOT NULL DEFAULT 0,
    cost_usd      DOUBLE NOT NULL DEFAULT 0,
    max_cost_usd  DOUBLE,
    message       VARCHAR,
    pid           INTEGER,
    started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMP,
    host          VARCHAR,
    pid_started   BIGINT,
    endpoint      VARCHAR
);
INSERT INTO judge_runs SELECT run_id, task_id, judge_name, config_hash, config, status,
    total_calls, cached_calls, done_calls, failed_calls, cost_usd, max_cost_usd, message, pid,
    started_at, updated_at, finished_at, host, pid_started, endpoint FROM judge_runs_v4;
DROP TABLE judge_runs_v4;

-- judge_calls: first_side -> left_side, shown_outcome (a|b|tie) -> raw_choice (left|right|tie)
ALTER TABLE judge_calls RENAME TO judge_calls_v4;
CREATE TABLE judge_calls (
    call_key       VARCHAR PRIMARY KEY,
    run_id         VARCHAR NOT NULL,         -- the run that paid for it
    config_hash    VARCHAR NOT NULL,
    judge_model    VARCHAR NOT NULL,
    judge_endpoint VARCHAR NOT NULL,
    task_id        VARCHAR NOT NULL,
    pair_id        VARCHAR NOT NULL,
    left_side      VARCHAR NOT NULL CHECK (left_side IN ('a', 'b')),  -- canonical side shown first
    raw_answer     VARCHAR NOT NULL,
    raw_choice     VARCHAR                   -- the answer in shown terms; NULL when unparsable
        CHECK (raw_choice IN ('left', 'right', 'tie')),
    strength       SMALLINT CHECK (strength IN (1, 2)),
    probability    DOUBLE,                   -- P(the answer shown first is better)
    parse_error    VARCHAR,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    usage_estimated BOOLEAN NOT NULL DEFAULT false,
    cost_usd       DOUBLE NOT NULL,
    latency_ms     DOUBLE NOT NULL,
    attempts       INTEGER NOT NULL,
    finish_reason  VARCHAR,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO judge_calls SELECT call_key, run_id, config_hash, judge_model, judge_endpoint,
    task_id, pair_id, first_side, raw_answer,
    CASE shown_outcome WHEN 'a' THEN 'left' WHEN 'b' THEN 'right' ELSE shown_outcome END,
    strength, probability, parse_error, input_tokens, output_tokens, usage_estimated, cost_usd,
    latency_ms, attempts, finish_reason, created_at FROM judge_calls_v4;
DROP TABLE judge_calls_v4;

-- escalations: judge_name -> rater_id ------------------------------------------------------
ALTER TABLE escalations RENAME TO escalations_v4;
CREATE TABLE escalations (
    task_id       VARCHAR NOT NULL,
    pair_id       VARCHAR NOT NULL,
    rater_id      VARCHAR NOT NULL,          -- the judge that doubted
    reason        VARCHAR NOT NULL CHECK (reason IN ('inconsistent', 'unsure')),
    margin        DOUBLE,                    -- |2p - 1| of the judge's probability, when known
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (task_id, pair_id)
);
INSERT INTO escalations SELECT task_id, pair_id, judge_name, reason, margin, created_at
    FROM escalations_v4;
DROP TABLE escalations_v4;
