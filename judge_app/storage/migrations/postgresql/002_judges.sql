-- PostgreSQL twin of ../002_judges.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE; JSON stays json, which keeps the text as written).
-- LLM-judge runs, the call cache, and pairs escalated from judges to people.

-- One `judge-app judge` invocation. Progress columns are updated by the one process that
-- runs it; everything else about a run is derived from judge_calls and verdicts.
CREATE TABLE judge_runs (
    run_id        VARCHAR PRIMARY KEY,
    task_id       VARCHAR NOT NULL,
    judge_name    VARCHAR NOT NULL,          -- the judge's rater_id
    config_hash   VARCHAR NOT NULL,
    config        JSON NOT NULL,             -- the judge config (the key's variable name, never the key)
    status        VARCHAR NOT NULL,          -- running | done | stopped | failed
    total_calls   BIGINT NOT NULL,           -- calls this run planned, cached ones included
    cached_calls  BIGINT NOT NULL DEFAULT 0, -- answered from the cache at the start
    done_calls    BIGINT NOT NULL DEFAULT 0, -- new calls answered and stored
    failed_calls  BIGINT NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_cost_usd  DOUBLE PRECISION,
    message       VARCHAR,                   -- why it stopped or failed
    pid           INTEGER,
    started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMP
);

-- Every paid answer, keyed by the content it answered (judge config hash, texts, order):
-- the same question is never paid for twice. Outcomes are relative to the order shown.
CREATE TABLE judge_calls (
    call_key       VARCHAR PRIMARY KEY,
    run_id         VARCHAR NOT NULL,         -- the run that paid for it
    config_hash    VARCHAR NOT NULL,
    judge_model    VARCHAR NOT NULL,
    judge_endpoint VARCHAR NOT NULL,
    task_id        VARCHAR NOT NULL,
    pair_id        VARCHAR NOT NULL,
    first_side     VARCHAR NOT NULL,         -- which canonical output ('a' or 'b') was shown first
    raw_answer     VARCHAR NOT NULL,
    shown_outcome  VARCHAR,                  -- a (first shown) | b | tie; NULL when unparsable
    strength       SMALLINT,
    probability    DOUBLE PRECISION,                   -- P(first shown is better)
    parse_error    VARCHAR,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    usage_estimated BOOLEAN NOT NULL DEFAULT false,
    cost_usd       DOUBLE PRECISION NOT NULL,
    latency_ms     DOUBLE PRECISION NOT NULL,
    attempts       INTEGER NOT NULL,
    finish_reason  VARCHAR,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Pairs a judge was inconsistent or unsure about, put first in the human raters' queue.
CREATE TABLE escalations (
    task_id       VARCHAR NOT NULL,
    pair_id       VARCHAR NOT NULL,
    judge_name    VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,          -- inconsistent | unsure
    margin        DOUBLE PRECISION,                    -- |2p - 1| of the judge's probability, when known
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (task_id, pair_id)
);

CREATE INDEX judge_calls_task_pair ON judge_calls (task_id, pair_id);
