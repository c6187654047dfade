-- J12: the first 10 events ordered by time, then type, then user.
-- input: tests/data/reels.ndjson
SELECT event_id, timestamp, user_id, event_type
FROM events
ORDER BY timestamp, event_type, user_id
LIMIT 10;
