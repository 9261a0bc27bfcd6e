-- Octopus schema, version 1: settings, merchants and their API keys, orders and their history.
-- Amounts are exact NUMERIC; times are Unix milliseconds (BIGINT), as in the SQLite backend.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE merchants (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    api_key       TEXT PRIMARY KEY,
    merchant_id   BIGINT NOT NULL REFERENCES merchants (id),
    sealed_secret TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE orders (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_uid            TEXT NOT NULL UNIQUE,
    merchant_id            BIGINT NOT NULL REFERENCES merchants (id),
    merchant_uid           TEXT NOT NULL,
    merchant_name          TEXT NOT NULL,
    signature_key          TEXT NOT NULL,
    merchant_order_id      TEXT NOT NULL,
    transaction_type       TEXT NOT NULL,
    accounting_type        TEXT NOT NULL,
    amount                 NUMERIC NOT NULL,
    floating_amount        NUMERIC NOT NULL,
    final_amount           NUMERIC NOT NULL,
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
    ttl                    BIGINT,
    float_precision        SMALLINT NOT NULL,
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
    amount_locked          BOOLEAN NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    expires_at             BIGINT,
    next_check_at          BIGINT,
    UNIQUE (merchant_id, merchant_order_id)
);

-- A floating final_amount is held by one open order per channel and currency.
CREATE UNIQUE INDEX orders_locked_amount ON orders (channel, currency, final_amount)
    WHERE amount_locked;
CREATE INDEX orders_expires_at ON orders (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX orders_next_check_at ON orders (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE order_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX order_events_order_id ON order_events (order_id);
