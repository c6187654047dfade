-- J6: one user's last 24 hours: videos watched, engagement minutes, and
-- engagement rate (likes per view). A point query: one actor answers.
-- Run: tally run queries/j6_user_24h.sql --input FILE --param user=987654321
-- input: tests/data/reels.ndjson
-- params: user=987654321
SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos_watched,
       ROUND(SUM(metadata.view_duration_ms) / 60000.0, 2) AS engagement_minutes,
       COUNT(*) FILTER (WHERE event_type = 'like')
         / COUNT(*) FILTER (WHERE event_type = 'video_view') AS engagement_rate
FROM events
WHERE user_id = :user
WINDOW 24h;
