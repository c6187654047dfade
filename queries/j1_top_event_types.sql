-- J1: the top 3 event types of the last hour.
-- input: tests/data/reels.ndjson
SELECT TOP 3 event_type FROM events WINDOW 1h;
