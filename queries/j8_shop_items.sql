-- J8: the most viewed item of the last hour, the item most added to cart in
-- 24 h, and the highest-grossing item by SUM(price) in 24 h.
-- input: tests/data/shop.ndjson
SELECT TOP 1 item_id FROM events WHERE event = 'view' WINDOW 1h;
SELECT TOP 1 item_id FROM events WHERE event = 'add_to_cart' WINDOW 24h;
SELECT item_id, SUM(price) AS revenue
FROM events
WHERE event = 'purchase'
GROUP BY item_id
ORDER BY revenue DESC
LIMIT 1
WINDOW 24h;
