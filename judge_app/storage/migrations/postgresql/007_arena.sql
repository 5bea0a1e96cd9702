-- PostgreSQL twin of ../007_arena.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE).
-- The live arena (services/arena.py): one row per battle a rater started. A battle's prompt,
-- its two outputs, its pair and the rater's assignment are ordinary rows (prompt category
-- 'arena'), so every leaderboard, agreement figure and export counts arena votes; this
-- table adds what only the arena needs: which models were drawn (blinding is kept by the
-- page, never by hiding rows), what was reserved and paid (the task's arena budget and the
-- per-rater rate limit count it), and whether an answer named its own model or vendor.
CREATE TABLE arena_battles (
    battle_id       VARCHAR PRIMARY KEY,
    task_id         VARCHAR NOT NULL,
    rater_id        VARCHAR NOT NULL,
    prompt_id       VARCHAR NOT NULL,
    left_model      VARCHAR NOT NULL,       -- the model shown on the left (the UI's A)
    right_model     VARCHAR NOT NULL,       -- the model shown on the right (the UI's B)
    status          VARCHAR NOT NULL DEFAULT 'answering'
        CHECK (status IN ('answering', 'answered', 'failed', 'voted')),
    reserved_usd    DOUBLE PRECISION NOT NULL,        -- the worst case of both calls, held until paid
    cost_usd        DOUBLE PRECISION,                 -- what both calls cost, once they ended
    self_identified VARCHAR,                -- the identity words an answer gave; NULL: none
    pair_id         VARCHAR,
    assignment_id   VARCHAR,
    message         VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP
);

-- One row per turn a rater sent (a battle's first prompt and each follow-up): the per-rater
-- rate limit counts these (two calls each).
CREATE TABLE arena_turns (
    battle_id  VARCHAR NOT NULL,
    turn       INTEGER NOT NULL,            -- 1-based
    task_id    VARCHAR NOT NULL,
    rater_id   VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (battle_id, turn)
);
