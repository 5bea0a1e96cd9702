-- The budget ledger (services/budgets.py): a --max-cost that holds across processes. Runs
-- with a cap on one task (judge runs, generation runs, on any number of processes or
-- machines) that overlap in time share one window. Each paid call first reserves its
-- worst-case cost in the window, admitted only if the window's spent + reserved + this call
-- stays within the caller's cap, and settles it with the real cost afterwards (the
-- difference is released). A window closes when its last member leaves; a run started
-- later opens the next one (a fresh budget, as before the ledger).
--
-- Append-only: every step (join, reserve, settle, leave, expire) is a new row carrying the
-- window's running totals after it, numbered 1, 2, ... within the window. A step reads the
-- window's last row and inserts the next number: two processes taking a step at once
-- insert the same key and the second fails and retries (PostgreSQL: unique violation;
-- DuckDB: constraint conflict), so no two can both take the last dollars, with no row
-- ever updated (DuckDB loses concurrent updates of one row).
CREATE TABLE budget_ledger (
    scope        VARCHAR NOT NULL,          -- 'task:<task_id>'
    window_no    INTEGER NOT NULL,          -- 1, 2, ... per scope; the last one is current
    seq          INTEGER NOT NULL,          -- 1, 2, ... per window
    kind         VARCHAR NOT NULL
        CHECK (kind IN ('join', 'reserve', 'settle', 'leave', 'expire')),
    member_id    VARCHAR NOT NULL,
    amount_usd   DOUBLE NOT NULL DEFAULT 0, -- reserve: the worst case; settle, leave and
                                            -- expire: the reservation(s) released
    calls        INTEGER NOT NULL DEFAULT 0, -- calls reserved (+) or released (-)
    cost_usd     DOUBLE NOT NULL DEFAULT 0, -- settle: what the call really cost
    spent_usd    DOUBLE NOT NULL,           -- the window's totals after this step
    reserved_usd DOUBLE NOT NULL,
    held         INTEGER NOT NULL,          -- calls in flight
    members      INTEGER NOT NULL,          -- 0 after a leave or expire: the window closed
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, window_no, seq)
);

-- Who takes part in a window, so a member whose process died (SIGKILL, power cut) can be
-- told from a live one and its reservations released ('expire' in the ledger). Alive or
-- not: on PostgreSQL the member's process holds a session advisory lock named after
-- member_id (the server drops it with the dead connection); on a DuckDB file (one machine)
-- its pid, host and process start time.
CREATE TABLE budget_members (
    member_id    VARCHAR PRIMARY KEY,
    scope        VARCHAR NOT NULL,
    window_no    INTEGER NOT NULL,
    holder       VARCHAR NOT NULL,          -- the judge or generation run id
    max_cost_usd DOUBLE NOT NULL,           -- the member's own cap
    pid          INTEGER,
    host         VARCHAR,
    pid_started  BIGINT,
    joined_at    TIMESTAMP NOT NULL
);
CREATE INDEX budget_members_window ON budget_members (scope, window_no);
