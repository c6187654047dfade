-- The event-statistics API as a saved query: count, min, max and mean of
-- `value` over the last hour (nulls when the hour is empty). The same
-- answer as J9, served by `tally serve --queries queries/` as
-- GET /queries/statistics.
-- input: tests/data/stats.ndjson
SELECT COUNT(*) AS count, MIN(value) AS min, MAX(value) AS max, AVG(value) AS mean
FROM events
WINDOW 1h;
