-- The shop API: the most viewed item of the last hour
-- (GET /queries/shop_most_viewed under `tally serve --queries queries/`).
-- input: tests/data/shop.ndjson
SELECT TOP 1 item_id FROM events WHERE event = 'view' WINDOW 1h;
