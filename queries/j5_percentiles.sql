-- J5: streaming median and percentiles of view duration over the last hour,
-- from per-pane percentile sketches (each answer within 1% of the value at
-- its nearest rank; p = 0 and p = 100 are the exact min and max).
-- input: tests/data/reels.ndjson
SELECT COUNT(metadata.view_duration_ms) AS n,
       MEDIAN(metadata.view_duration_ms) AS median_ms,
       PERCENTILE(metadata.view_duration_ms, 90) AS p90_ms,
       PERCENTILE(metadata.view_duration_ms, 99) AS p99_ms,
       PERCENTILE(metadata.view_duration_ms, 100) AS max_ms,
       ROUND(MEDIAN(metadata.video_position), 3) AS median_position
FROM events
WINDOW 1h;

-- The same per device, for views only.
SELECT metadata.device_type AS device,
       ROUND(MEDIAN(metadata.view_duration_ms)) AS median_ms,
       ROUND(PERCENTILE(metadata.view_duration_ms, 99)) AS p99_ms
FROM events
WHERE event_type = 'video_view'
GROUP BY device
ORDER BY device
WINDOW 1h;
