-- The fixed query set the kill -9 harness (tests/crash.rs) compares
-- between an uninterrupted run and a killed-and-resumed one.
SHOW STATS;
SELECT TOP 5 event_type FROM events WINDOW 1h;
SELECT COUNT(*) AS events, COUNT(DISTINCT user_id) AS users FROM events WINDOW 24h;
SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5 WINDOW 24h;
SELECT video_id, COUNT(*) AS views FROM events WHERE event_type = 'video_view' GROUP BY video_id ORDER BY views DESC, video_id LIMIT 5 WINDOW 6h;
SELECT event_id, timestamp FROM events ORDER BY timestamp DESC, event_id LIMIT 5;
SELECT event_id, user_id FROM events LIMIT 5;
SELECT event_id FROM events WHERE event_type = 'like' ORDER BY user_id DESC, event_id LIMIT 5 WINDOW 6h;
