-- Octopus schema, version 7: the operator's own accounts, the devices that watch them, the
-- transfers they report, and the nonces of device requests.

-- An order of an own account names it, and the bank reference of the transfer that settled it.
ALTER TABLE orders ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN bank_reference TEXT NOT NULL DEFAULT '';

-- A final amount is unique among the orders that hold one on a channel's account (the
-- accounts of other channels have an empty account_id: one per channel and currency as before).
DROP INDEX orders_locked_amount;
CREATE UNIQUE INDEX orders_locked_amount ON orders (channel, account_id, currency, final_amount)
    WHERE amount_locked = 1;
-- Transfers find their candidates and their settled order by account; routing counts an
-- account's open deposits and its volume of the day. (Queries repeat `account_id <> ''` so
-- that the planner may use these partial indexes with a parameter.)
CREATE INDEX orders_account_amount ON orders (account_id, final_amount) WHERE account_id <> '';
CREATE INDEX orders_account_status ON orders (account_id, payment_status) WHERE account_id <> '';
CREATE INDEX orders_account_created ON orders (account_id, created_at) WHERE account_id <> '';
-- A bank reference settles one order of an account (a transfer, a manual confirmation).
CREATE UNIQUE INDEX orders_account_reference ON orders (account_id, bank_reference)
    WHERE account_id <> '' AND bank_reference <> '';

CREATE TABLE own_accounts (
    id           TEXT PRIMARY KEY,
    channel      TEXT NOT NULL REFERENCES channels (code),
    method       TEXT NOT NULL,
    bank_code    TEXT NOT NULL,
    number       TEXT NOT NULL,
    holder       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    promptpay_id TEXT NOT NULL,
    vpa          TEXT NOT NULL,
    wallet       TEXT NOT NULL,
    daily_limit  TEXT,
    max_open     INTEGER,
    enabled      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX own_accounts_channel ON own_accounts (channel);

CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES own_accounts (id),
    secret            TEXT NOT NULL,
    revoked_at        INTEGER,
    last_heartbeat_at INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE device_nonces (
    device_id  TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX device_nonces_expires_at ON device_nonces (expires_at);

CREATE TABLE transfers (
    uid              TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES own_accounts (id),
    channel          TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    amount           TEXT NOT NULL,
    currency         TEXT NOT NULL,
    bank_reference   TEXT NOT NULL,
    occurred_at      INTEGER NOT NULL,
    payer_account    TEXT NOT NULL,
    payer_name       TEXT NOT NULL,
    raw_text         TEXT NOT NULL,
    status           TEXT NOT NULL,
    payment_uid      TEXT NOT NULL,
    late             INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    return_reference TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- The same bank reference reported twice is one transfer.
    UNIQUE (account_id, bank_reference)
);
CREATE INDEX transfers_status ON transfers (status, created_at);
