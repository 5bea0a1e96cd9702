-- PostgreSQL twin of ../003_judge_run_owner.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE; JSON stays json, which keeps the text as written).
-- Who runs a judge run, so a run whose process is gone (SIGKILL, power cut) is reported as
-- interrupted instead of 'running' forever: the host name and the process's start time
-- (with the existing pid, a pid reused by another process is not mistaken for the owner).
-- updated_at, which the runner refreshes about once a second, is the heartbeat for owners
-- on another host. `endpoint` is the judge's endpoint with any credentials masked.
ALTER TABLE judge_runs ADD COLUMN host VARCHAR;
ALTER TABLE judge_runs ADD COLUMN pid_started BIGINT;
ALTER TABLE judge_runs ADD COLUMN endpoint VARCHAR;
