-- Octopus schema, version 10: signing in with a second factor, merchant users and tokens for
-- automation. An operator's TOTP code is good once (the last time step used is kept), its
-- recovery codes once each (stored as SHA-256, never the codes); a merchant user is an
-- operator row bound to one merchant; an admin token is known by its SHA-256, like a session.

-- '' for the gateway's operators; a merchant user's merchant_uid.
ALTER TABLE operators ADD COLUMN merchant_uid TEXT NOT NULL DEFAULT '';
-- The TOTP time step of the last code accepted: a code is never accepted twice.
ALTER TABLE operators ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    operator_id BIGINT NOT NULL REFERENCES operators (id),
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (operator_id, code_hash)
);

CREATE TABLE admin_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
