-- J4: events per time bucket, with a running total. Buckets are aligned to
-- the epoch; with the bucket as the only group column, empty buckets appear
-- with a count of 0. The committed input covers half an hour, so this uses
-- 5-minute buckets; over a day write TIME_BUCKET(1h, timestamp) ... WINDOW 24h.
-- input: tests/data/reels.ndjson
SELECT TIME_BUCKET(5m, timestamp) AS bucket,
       COUNT(*) AS events,
       COUNT(*) FILTER (WHERE event_type = 'video_view') AS views,
       CUMULATIVE(events) AS running_total
FROM events
GROUP BY bucket
ORDER BY bucket
WINDOW 30m;
