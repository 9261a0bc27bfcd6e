-- Octopus schema, version 1: settings, merchants and their API keys, orders and their history.
-- Amounts are exact decimal TEXT written with the currency's precision; times are Unix ms.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE merchants (
    id         INTEGER PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    api_key       TEXT PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id),
    sealed_secret TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE orders (
    id                     INTEGER PRIMARY KEY,
    payment_uid            TEXT NOT NULL UNIQUE,
    merchant_id            INTEGER NOT NULL REFERENCES merchants (id),
    merchant_uid           TEXT NOT NULL,
    merchant_name          TEXT NOT NULL,
    signature_key          TEXT NOT NULL,
    merchant_order_id      TEXT NOT NULL,
    transaction_type       TEXT NOT NULL,
    accounting_type        TEXT NOT NULL,
    amount                 TEXT NOT NULL,
    floating_amount        TEXT NOT NULL,
    final_amount           TEXT NOT NULL,
    currency               TEXT NOT NULL,
    country                TEXT NOT NULL,
    country_code           TEXT NOT NULL,
    payment                TEXT NOT NULL,
    channel                TEXT NOT NULL,
    from_account           TEXT NOT NULL,
    from_name              TEXT NOT NULL,
    from_bank_name         TEXT NOT NULL,
    to_account             TEXT NOT NULL,
    to_name                TEXT NOT NULL,
    to_bank_name           TEXT NOT NULL,
    member_id              TEXT NOT NULL,
    redirect_url           TEXT NOT NULL,
    notify_url             TEXT NOT NULL,
    response_type          TEXT NOT NULL,
    ip                     TEXT NOT NULL,
    user_agent             TEXT NOT NULL,
    ttl                    INTEGER,
    float_precision        INTEGER NOT NULL,
    additional             TEXT NOT NULL,
    extra                  TEXT NOT NULL,
    distribute_rules       TEXT NOT NULL,
    payment_status         TEXT NOT NULL,
    payment_fail_reason    TEXT NOT NULL,
    notify_status          TEXT NOT NULL,
    notify_fail_reason     TEXT NOT NULL,
    accounting_status      TEXT NOT NULL,
    accounting_fail_reason TEXT NOT NULL,
    fingerprint            TEXT NOT NULL,
    amount_locked          INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    expires_at             INTEGER,
    next_check_at          INTEGER,
    UNIQUE (merchant_id, merchant_order_id)
);

-- A floating final_amount is held by one open order per channel and currency.
CREATE UNIQUE INDEX orders_locked_amount ON orders (channel, currency, final_amount)
    WHERE amount_locked = 1;
CREATE INDEX orders_expires_at ON orders (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX orders_next_check_at ON orders (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX order_events_order_id ON order_events (order_id);
