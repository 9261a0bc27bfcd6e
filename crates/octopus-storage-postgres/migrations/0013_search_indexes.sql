-- Octopus schema, version 13: two more indexes of the consoles' search, measured on a million
-- orders (docs/benchmarks.md, "Console search"): a merchant's orders of one status (every list
-- of the merchant console names its merchant), and amounts (an operator looking for one
-- payment by its amount; `amount` is NUMERIC here, compared exactly).
CREATE INDEX orders_merchant_status_created ON orders (merchant_uid, payment_status, created_at);
CREATE INDEX orders_amount ON orders (amount);
