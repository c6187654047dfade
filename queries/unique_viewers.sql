-- Distinct counts: unique users in the last hour (global), unique viewers
-- per video (fan-out over video actors), and the videos one user watched
-- (a point query). Keys are counted by HyperLogLog sketches (exact while
-- small, ±0.8% standard error when large); dimensions are counted exactly.
-- Run: tally run queries/unique_viewers.sql --input FILE --param user=987654321
-- input: tests/data/reels.ndjson
-- params: user=987654321
SELECT COUNT(DISTINCT user_id) AS users,
       APPROX_COUNT_DISTINCT(video_id) AS videos,
       COUNT(DISTINCT creator_id) AS creators,
       COUNT(DISTINCT event_type) AS event_types
FROM events
WINDOW 1h;

SELECT video_id,
       COUNT(DISTINCT user_id) FILTER (WHERE event_type = 'video_view') AS viewers,
       COUNT(*) AS events
FROM events
GROUP BY video_id
ORDER BY viewers DESC, video_id
LIMIT 5
WINDOW 24h;

SELECT COUNT(DISTINCT video_id) FILTER (WHERE event_type = 'video_view') AS videos_watched,
       COUNT(DISTINCT metadata.device_type) AS devices
FROM events
WHERE user_id = :user
WINDOW 24h;
