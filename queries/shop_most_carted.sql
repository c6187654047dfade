-- The shop API: the item most added to cart in the last 24 h
-- (GET /queries/shop_most_carted under `tally serve --queries queries/`).
-- input: tests/data/shop.ndjson
SELECT TOP 1 item_id FROM events WHERE event = 'add_to_cart' WINDOW 24h;
