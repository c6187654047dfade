-- J9: count, min, max and mean of a value over the last hour.
-- input: tests/data/stats.ndjson
SELECT COUNT(*) AS n, MIN(value) AS min, MAX(value) AS max, AVG(value) AS mean
FROM events
WINDOW 1h;
