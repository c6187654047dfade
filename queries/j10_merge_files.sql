-- J10: three time-sorted files merged into one stream by event time (k-way
-- merge). Without ORDER BY, raw rows come in the order they were accepted,
-- so the first rows show the files interleaved by time.
-- Files: tally gen --preset reels -n 40 --users 50 --items 20
--        --start 2025-01-15T12:00:00Z with --seed 11/12/13 and --span
--        10m/7m/13m, event ids prefixed a_/b_/c_.
-- input: tests/data/merge_a.ndjson tests/data/merge_b.ndjson tests/data/merge_c.ndjson
SELECT event_id, timestamp, event_type FROM events LIMIT 12;
SELECT COUNT(*) AS events, COUNT(*) FILTER (WHERE event_type = 'video_view') AS views FROM events;
