-- Octopus schema, version 13: two more indexes of the consoles' search, measured on a million
-- orders (docs/benchmarks.md, "Console search"): a merchant's orders of one status (every list
-- of the merchant console names its merchant), and amounts (an operator looking for one
-- payment by its amount). On SQLite the amount index holds the amount as REAL: it only
-- narrows what the exact decimal comparison then decides (storage-sqlite/src/search.rs).
CREATE INDEX orders_merchant_status_created ON orders (merchant_uid, payment_status, created_at);
CREATE INDEX orders_amount ON orders (CAST(amount AS REAL));
