-- Octopus schema, version 3: the callback outbox and its attempt log.

CREATE TABLE callbacks (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    payment_uid     TEXT NOT NULL,
    notify_url      TEXT NOT NULL,
    host            TEXT NOT NULL,
    signature_key   TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    manual          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_pending_of_order ON callbacks (order_id, id) WHERE state = 'pending';
CREATE INDEX callbacks_of_order ON callbacks (order_id);

CREATE TABLE callback_attempts (
    id            INTEGER PRIMARY KEY,
    callback_id   INTEGER NOT NULL REFERENCES callbacks (id),
    attempt       INTEGER NOT NULL,
    manual        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    http_status   INTEGER,
    latency_ms    INTEGER NOT NULL,
    error         TEXT NOT NULL,
    response_head TEXT NOT NULL
);
CREATE INDEX callback_attempts_callback ON callback_attempts (callback_id);
