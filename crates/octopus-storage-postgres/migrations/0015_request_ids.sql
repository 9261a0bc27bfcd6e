-- The id of the request that created an order and of the one that made each status change
-- (X-Request-Id), on the order's history. Additive, with defaults: nodes of the release
-- before, which do not write them, run beside this one during a rolling upgrade.
ALTER TABLE orders ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE order_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
