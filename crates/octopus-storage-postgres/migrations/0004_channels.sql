-- Octopus schema, version 4: channels, the operator's configured routes to upstream providers.
-- Lists are comma separated ('' accepts anything); amounts are decimal TEXT; credentials are a
-- JSON object sealed by the master key.

CREATE TABLE channels (
    code              TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL,
    merchants         TEXT NOT NULL DEFAULT '',
    transaction_types TEXT NOT NULL DEFAULT '',
    countries         TEXT NOT NULL DEFAULT '',
    currencies        TEXT NOT NULL DEFAULT '',
    payments          TEXT NOT NULL DEFAULT '',
    min_amount        TEXT,
    max_amount        TEXT,
    default_ttl       BIGINT,
    priority          INTEGER NOT NULL DEFAULT 100,
    weight            INTEGER NOT NULL DEFAULT 1,
    daily_limit       TEXT,
    settings          TEXT NOT NULL DEFAULT '{}',
    credentials       TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Every gateway starts with the sandbox channel; disable it before going live.
INSERT INTO channels (code, kind, enabled, created_at, updated_at) VALUES ('sandbox', 'sandbox', TRUE, 0, 0);
