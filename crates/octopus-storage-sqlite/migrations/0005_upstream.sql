-- Octopus schema, version 5: what the payer of an upstream deposit is shown, and every request
-- to an upstream provider with its answer (credentials masked), for the order's history.

CREATE TABLE order_upstream (
    order_id     INTEGER PRIMARY KEY REFERENCES orders (id),
    channel      TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '{}',
    updated_at   INTEGER NOT NULL
);

CREATE TABLE upstream_exchanges (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    channel     TEXT NOT NULL,
    operation   TEXT NOT NULL,
    request     TEXT NOT NULL,
    http_status INTEGER,
    response    TEXT NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX upstream_exchanges_of_order ON upstream_exchanges (order_id);

-- A channel's volume of the day (daily limits).
CREATE INDEX orders_channel_created ON orders (channel, created_at);

-- The references payers give for an upstream deposit (a transfer's transaction ID), so an
-- upstream postback that names only the transfer finds its order. One reference, one order.
CREATE TABLE upstream_references (
    channel   TEXT NOT NULL,
    reference TEXT NOT NULL,
    order_id  INTEGER NOT NULL REFERENCES orders (id),
    PRIMARY KEY (channel, reference)
);
