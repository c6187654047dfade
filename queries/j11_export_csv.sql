-- J11: export selected fields of recent events as CSV (raw events, read from
-- the ring of recently accepted events).
-- Run: tally run queries/j11_export_csv.sql --input FILE --format csv > out.csv
-- input: tests/data/reels.ndjson
-- format: csv
SELECT event_id, timestamp, user_id, video_id, event_type,
       metadata.view_duration_ms AS view_duration_ms
FROM events
WHERE event_type IN ('video_view', 'share')
ORDER BY timestamp DESC
LIMIT 8
WINDOW 5m;
