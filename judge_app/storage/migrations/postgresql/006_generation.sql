-- PostgreSQL twin of ../006_generation.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE; JSON stays json).
-- Generation: outputs answered by an endpoint through `judge-app generate`
-- (services/generation.py), with their latency, time to first token and finish reason.
--
-- outputs gain two columns an import may leave NULL: the time to the first token of the
-- answer (the first turn's, for a multi-turn answer) and how the answer ended (stop, length,
-- content_filter; the last turn's that was not 'stop', for a multi-turn answer). The rest of
-- a generated output's record (request settings, config hash, endpoint model id,
-- system_fingerprint, flags, per-turn figures) is in its metadata's "generation" object.
ALTER TABLE outputs ADD COLUMN ttft_ms DOUBLE PRECISION;
ALTER TABLE outputs ADD COLUMN finish_reason VARCHAR;

-- One answered chat completion: a turn of a prompt, answered by a model config. The key is
-- sha256 over the config hash and the exact messages sent, so a re-run (or a run killed and
-- started again) re-uses every answer already paid for.
CREATE TABLE generation_calls (
    call_key           VARCHAR PRIMARY KEY,
    run_id             VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,    -- the model's name in the task
    endpoint           VARCHAR NOT NULL,    -- credentials masked
    task_id            VARCHAR NOT NULL,
    prompt_id          VARCHAR NOT NULL,
    turn               INTEGER NOT NULL,    -- 1-based
    answer             VARCHAR NOT NULL,
    finish_reason      VARCHAR,
    input_tokens       BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    usage_estimated    BOOLEAN NOT NULL,    -- the endpoint reported no usage: characters / 4
    cost_usd           DOUBLE PRECISION NOT NULL,
    latency_ms         DOUBLE PRECISION NOT NULL,
    ttft_ms            DOUBLE PRECISION,
    response_model     VARCHAR,             -- the model id the endpoint says answered
    system_fingerprint VARCHAR,
    attempts           INTEGER NOT NULL,
    created_at         TIMESTAMP NOT NULL
);

CREATE TABLE generation_runs (
    run_id        VARCHAR PRIMARY KEY,
    task_id       VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,         -- the model's name in the task
    config_hash   VARCHAR NOT NULL,
    config        JSON NOT NULL,            -- the model config, no key, URL credentials masked
    status        VARCHAR NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    total_prompts INTEGER NOT NULL,
    done_outputs  INTEGER NOT NULL DEFAULT 0,
    new_calls     INTEGER NOT NULL DEFAULT 0,
    failed_calls  INTEGER NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_cost_usd  DOUBLE PRECISION,
    message       VARCHAR,
    endpoint      VARCHAR,
    pid           INTEGER,
    host          VARCHAR,
    pid_started   BIGINT,
    started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMP
);
