-- The shop API: the highest-grossing item of the last 24 h, by the sum of
-- its purchase prices (GET /queries/shop_top_revenue under
-- `tally serve --queries queries/`).
-- input: tests/data/shop.ndjson
SELECT item_id, SUM(price) AS revenue
FROM events
WHERE event = 'purchase'
GROUP BY item_id
ORDER BY revenue DESC
LIMIT 1
WINDOW 24h;
