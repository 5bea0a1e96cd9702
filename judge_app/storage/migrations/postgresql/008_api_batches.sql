-- PostgreSQL twin of ../008_api_batches.sql: the same table and columns, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE).
-- Batch API runs (`judge-app generate --batch`, `judge-app judge --batch`; services/batches.py).
--
-- One row per batch submitted to an OpenAI-compatible Batch API, written BEFORE anything is
-- uploaded: the intent (the exact JSONL input and the calls it holds) first, then the file
-- id and the batch id as soon as each is known. A run killed at any moment finds its open
-- batch here (or, killed between creating the batch and recording its id, at the endpoint by
-- the batch_key it sent as metadata) and never submits the same calls again.
CREATE TABLE api_batches (
    batch_key          VARCHAR PRIMARY KEY,  -- ours; sent as metadata judge_app_batch
    kind               VARCHAR NOT NULL CHECK (kind IN ('generate', 'judge')),
    task_id            VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,     -- the run that recorded it
    endpoint           VARCHAR NOT NULL,     -- credentials masked
    state              VARCHAR NOT NULL DEFAULT 'preparing'
        CHECK (state IN ('preparing', 'uploaded', 'submitted', 'done')),
    calls              JSON NOT NULL,        -- [{custom_id, context}] in input order
    n_calls            INTEGER NOT NULL,
    input_jsonl        VARCHAR NOT NULL,     -- the file uploaded, byte for byte
    estimated_cost_usd DOUBLE PRECISION NOT NULL,      -- worst case at the batch price
    input_file_id      VARCHAR,
    remote_batch_id    VARCHAR,
    remote_status      VARCHAR,              -- the endpoint's: validating ... completed, expired
    output_file_id     VARCHAR,
    error_file_id      VARCHAR,
    completed_calls    INTEGER NOT NULL DEFAULT 0,
    failed_calls       INTEGER NOT NULL DEFAULT 0,
    landed_calls       INTEGER NOT NULL DEFAULT 0,
    cost_usd           DOUBLE PRECISION NOT NULL DEFAULT 0,
    errors             JSON,                 -- [[custom_id, reason]] of the lines that failed
    message            VARCHAR,
    created_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at        TIMESTAMP
);

-- A batch answer has no per-call latency (the endpoint answers within its 24 h window, not
-- to a waiting caller): stored as NULL, never as a made-up number.
ALTER TABLE judge_calls ALTER COLUMN latency_ms DROP NOT NULL;
ALTER TABLE generation_calls ALTER COLUMN latency_ms DROP NOT NULL;
