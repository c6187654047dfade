-- J7 as a continuous rule on video actors: a video is viral when, in some
-- 2 h window, (shares + comments) / views > 1.5 with at least :min_views
-- views (the job's threshold is 1000; the small golden input uses 10).
-- Each video actor checks it on every event it receives.
-- Run: tally run queries/j7_viral_rule.sql --input FILE --param min_views=1000 --emit hits.ndjson
-- input: tests/data/reels.ndjson
-- params: min_views=10
CREATE RULE viral AS
SELECT video_id,
       COUNT(*) FILTER (WHERE event_type = 'video_view') AS views,
       COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS shares_comments,
       ROUND(shares_comments / views, 3) AS ratio
FROM events
GROUP BY video_id
HAVING views >= :min_views AND shares_comments / views > 1.5
WINDOW 2h;
SHOW RULES;
SELECT * FROM rule_hits;
