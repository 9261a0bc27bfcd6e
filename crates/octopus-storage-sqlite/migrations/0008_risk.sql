-- Octopus schema, version 8: merchant safety. Test books (a merchant's test-mode money, kept
-- apart), the API key lifecycle (labels, expiry, last use, IP allowlists), blocklists,
-- velocity rules and payout review thresholds.

-- A merchant's test book is a merchants row of its own, naming its live merchant: its orders,
-- merchant_order_ids and ledger accounts are apart from live money. At most one per merchant.
ALTER TABLE merchants ADD COLUMN live_id INTEGER REFERENCES merchants (id);
CREATE UNIQUE INDEX merchants_test_book ON merchants (live_id) WHERE live_id IS NOT NULL;

ALTER TABLE api_keys ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
-- Networks, comma separated ('' accepts any address).
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

ALTER TABLE orders ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
-- Velocity rules count a member's or a payer account's recent orders.
CREATE INDEX orders_member_created ON orders (merchant_id, member_id, created_at)
    WHERE member_id <> '';
-- Payouts waiting for review.
CREATE INDEX orders_in_review ON orders (id) WHERE payment_status = 'preparing';
CREATE INDEX orders_payer_created ON orders (merchant_id, from_account, created_at)
    WHERE from_account <> '';

-- merchant_id 0: operator-wide. entry_key is 'kind:normalized value', what orders look up.
CREATE TABLE blocklist (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL,
    entry_key   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE UNIQUE INDEX blocklist_entry ON blocklist (entry_key, merchant_id);
CREATE INDEX blocklist_merchant ON blocklist (merchant_id, id);

CREATE TABLE velocity_rules (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants (id),
    subject          TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    window_seconds   INTEGER NOT NULL,
    max_orders       INTEGER,
    max_volume       TEXT,
    currency         TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

-- merchant_id 0: operator-wide.
CREATE TABLE review_thresholds (
    merchant_id INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    above       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, currency)
);
