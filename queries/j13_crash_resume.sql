-- J13: crash, restart, lose nothing, count nothing twice. The input goes
-- into a data directory in commits of 1,000 lines; the process dies in the
-- middle of writing the fourth (the log is cut there, torn), and the same
-- command runs again: the log's 3,000 lines are replayed, the torn record
-- is cut, the file resumes at line 3,001, and every counter and answer is
-- that of one uninterrupted run (the golden test checks both).
-- Run: tally ingest FILE --data d; kill -9 it; tally ingest FILE --data d;
--      tally run queries/j13_crash_resume.sql --data d
-- input: tests/data/reels.ndjson
-- crash: 3 of 1000
SHOW STATS;
SELECT TOP 3 event_type FROM events WINDOW 1h;
SELECT COUNT(*) AS events, COUNT(DISTINCT user_id) AS users FROM events WINDOW 24h;
