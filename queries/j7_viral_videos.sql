-- J7: viral videos: (shares + comments) / views > 1.5 with at least
-- :min_views views in the last 2 hours (the job's threshold is 1000; the
-- small golden input uses a lower one). Fans out to every video actor.
-- Run: tally run queries/j7_viral_videos.sql --input FILE --param min_views=1000
-- input: tests/data/reels.ndjson
-- params: min_views=10
SELECT video_id,
       COUNT(*) FILTER (WHERE event_type = 'video_view') AS views,
       COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS shares_comments,
       ROUND(shares_comments / views, 3) AS ratio
FROM events
GROUP BY video_id
HAVING views >= :min_views AND shares_comments / views > 1.5
ORDER BY ratio DESC, video_id
WINDOW 2h;
