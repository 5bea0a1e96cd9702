-- PostgreSQL twin of ../001_initial.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE; JSON stays json, which keeps the text as written).
-- judge_app schema, version 1. Verdicts are append-only: an undo is a new row that retracts.
-- Unlike DuckDB (zone maps, no secondary indexes), PostgreSQL needs indexes for the rater
-- flow's lookups by assignment, rater and retraction: they are at the end of this file.

CREATE TABLE tasks (
    task_id       VARCHAR PRIMARY KEY,      -- the task's name
    title         VARCHAR NOT NULL,
    config        JSON NOT NULL,            -- task.toml, whole
    content_hash  VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE prompts (
    task_id       VARCHAR NOT NULL,
    prompt_id     VARCHAR NOT NULL,
    messages      JSON NOT NULL,            -- [{role, content}, ...]
    category      VARCHAR NOT NULL DEFAULT '',
    reference     VARCHAR,
    metadata      JSON NOT NULL DEFAULT '{}',
    content_hash  VARCHAR NOT NULL,
    PRIMARY KEY (task_id, prompt_id)
);

CREATE TABLE outputs (
    output_id     VARCHAR PRIMARY KEY,      -- deterministic: hash of task, prompt, model
    task_id       VARCHAR NOT NULL,
    prompt_id     VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL DEFAULT '',
    response      JSON NOT NULL,            -- [{role: assistant, content}, ...]
    response_text VARCHAR NOT NULL,         -- what raters read; its length feeds the length-bias figures
    latency_ms    DOUBLE PRECISION,
    cost_usd      DOUBLE PRECISION,
    input_tokens  BIGINT,
    output_tokens BIGINT,
    metadata      JSON NOT NULL DEFAULT '{}',
    content_hash  VARCHAR NOT NULL
);

CREATE TABLE pairs (
    pair_id       VARCHAR PRIMARY KEY,      -- deterministic: hash of task and both output ids
    task_id       VARCHAR NOT NULL,
    prompt_id     VARCHAR NOT NULL,
    output_a      VARCHAR NOT NULL,         -- canonical order: model_a sorts before model_b
    output_b      VARCHAR NOT NULL,
    model_a       VARCHAR NOT NULL,
    model_b       VARCHAR NOT NULL,
    gold_outcome  VARCHAR                   -- known answer for gold pairs, else NULL
);

CREATE TABLE raters (
    rater_id      VARCHAR PRIMARY KEY,      -- a person's name or a judge's name
    kind          VARCHAR NOT NULL,         -- human | judge
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    token_hash    VARCHAR UNIQUE,           -- sha256 of the login token; never the token
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE rater_tasks (
    rater_id      VARCHAR NOT NULL,
    task_id       VARCHAR NOT NULL,
    PRIMARY KEY (rater_id, task_id)
);

CREATE TABLE assignments (
    assignment_id VARCHAR PRIMARY KEY,
    task_id       VARCHAR NOT NULL,
    pair_id       VARCHAR NOT NULL,
    rater_id      VARCHAR NOT NULL,
    left_side     VARCHAR NOT NULL,         -- which canonical output ('a' or 'b') is shown on the left
    kind          VARCHAR NOT NULL DEFAULT 'normal',  -- normal | gold | retest
    retest_of     VARCHAR,                  -- for a swap re-test: the assignment it repeats
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE verdicts (
    verdict_id        VARCHAR PRIMARY KEY,      -- made by the client: a double submit is one row
    task_id           VARCHAR NOT NULL,
    pair_id           VARCHAR NOT NULL,
    prompt_id         VARCHAR NOT NULL,
    assignment_id     VARCHAR,
    rater_id          VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,         -- human | judge
    output_a          VARCHAR NOT NULL,
    output_b          VARCHAR NOT NULL,
    model_a           VARCHAR NOT NULL,
    model_b           VARCHAR NOT NULL,
    left_side         VARCHAR,                  -- 'a' or 'b' shown on the left; NULL when unknown
    outcome           VARCHAR,                  -- a | b | tie | both_bad; NULL on a skip or retraction
    raw_choice        VARCHAR,                  -- left | right | tie | both_bad | skip as clicked
    strength          SMALLINT,                 -- 1 better, 2 much better
    criteria          JSON,                     -- {criterion: outcome}
    rationale         VARCHAR,
    flagged           BOOLEAN NOT NULL DEFAULT false,
    probability       DOUBLE PRECISION,                   -- judge's P(a better), when known
    consistent        BOOLEAN,                  -- judge: both orders agreed
    duration_ms       BIGINT,
    judge_run_id      VARCHAR,
    judge_model       VARCHAR,
    judge_endpoint    VARCHAR,
    judge_template    VARCHAR,
    judge_config_hash VARCHAR,
    input_tokens      BIGINT,
    output_tokens     BIGINT,
    cost_usd          DOUBLE PRECISION,
    latency_ms        DOUBLE PRECISION,
    raw_answer        VARCHAR,
    retracts          VARCHAR,                  -- verdict_id this row takes back
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Rows that stand: neither a retraction nor retracted (skips included, outcome NULL).
CREATE VIEW standing_verdicts AS
SELECT v.* FROM verdicts v
WHERE v.retracts IS NULL
  AND v.verdict_id NOT IN (SELECT retracts FROM verdicts WHERE retracts IS NOT NULL);

-- What the analytics read: standing verdicts with an outcome.
CREATE VIEW active_verdicts AS
SELECT * FROM standing_verdicts WHERE outcome IS NOT NULL;

-- Indexes (PostgreSQL only): the rater flow reads a rater's rows of a task, an assignment's
-- rows and the rows that retract a verdict; the queue counts a task's assignments per pair.
CREATE INDEX verdicts_assignment ON verdicts (assignment_id);
CREATE INDEX verdicts_task_rater ON verdicts (task_id, rater_id);
CREATE INDEX verdicts_retracts ON verdicts (retracts);
CREATE INDEX assignments_task_rater ON assignments (task_id, rater_id);
CREATE INDEX assignments_task_pair ON assignments (task_id, pair_id);
CREATE INDEX pairs_task ON pairs (task_id);
CREATE INDEX outputs_task ON outputs (task_id);
