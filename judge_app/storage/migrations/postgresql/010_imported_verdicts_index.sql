-- PostgreSQL only (../010_imported_verdicts_index.sql changes nothing on DuckDB).
-- The rater queue counts a pair's coverage from its assignments plus the human verdicts that
-- came with an import (storage/queue.py, `imported`: task, source 'human', no assignment).
-- With only (task_id, rater_id) to go by, every next pair read all of the task's verdicts:
-- 85-140 ms at 400,000 judge verdicts on the task (benchmarks/bench_postgres.py). This index
-- holds only the rows that query wants (none, for a task judged by LLMs alone): 7 ms.
CREATE INDEX verdicts_imported ON verdicts (task_id, pair_id)
    WHERE source = 'human' AND assignment_id IS NULL;
