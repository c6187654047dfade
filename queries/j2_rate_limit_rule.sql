-- J2 as a continuous rule: users over 20 events in *any* 60 s, caught by
-- each user actor at the event that crosses the line, wherever the window
-- is. (j2_rate_limit.sql asks only about the window ending now.)
-- A user whose count stays above 20 is one hit; it re-arms once an event
-- finds the count back at 20 or less.
-- Run: tally run queries/j2_rate_limit_rule.sql --input FILE --emit hits.ndjson
-- input: tests/data/reels.ndjson
CREATE RULE rate_limit AS
SELECT user_id, COUNT(*) AS n
FROM events
GROUP BY user_id
HAVING n > 20
WINDOW 60s;
SHOW RULES;
-- Every hit, in the order they were found, then the worst ones.
SELECT * FROM rule_hits;
SELECT key AS user_id, window_end, n
FROM rule_hits
WHERE rule = 'rate_limit'
ORDER BY n DESC, window_end
LIMIT 5;
