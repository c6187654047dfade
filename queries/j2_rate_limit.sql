-- J2: users over 20 events in the last 60 s (a rate limit).
-- input: tests/data/reels.ndjson
SELECT user_id, COUNT(*) AS n
FROM events
GROUP BY user_id
HAVING n > 20
ORDER BY n DESC
WINDOW 60s;
