-- J3: how many events in the last 5 minutes.
-- input: tests/data/reels.ndjson
SELECT COUNT(*) AS events FROM events WINDOW 5m;
