-- Octopus schema, version 9: the people who run the gateway. Operators with their role,
-- password hash and TOTP secret (sealed with the master key), their failed sign-ins (what
-- locks an account), their sessions (shared by every node), and the audit log of every action
-- and sign-in, append-only like the journal.

CREATE TABLE operators (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    -- Argon2id, PHC string.
    password_hash TEXT NOT NULL,
    -- Sealed with the master key; '' until TOTP is enrolled.
    totp_secret TEXT NOT NULL DEFAULT '',
    -- A one-time password (from `operator create|reset`) must be changed at the next sign-in.
    must_change_password BOOLEAN NOT NULL DEFAULT TRUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Failed sign-ins by the email tried (normalized), whether or not an operator has it: an
-- unknown email locks like a real one, so a lock tells nothing about who exists.
CREATE TABLE sign_in_failures (
    email TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email, at);

-- A session is known by the SHA-256 of its cookie's token; the token itself is never stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    operator_id BIGINT NOT NULL REFERENCES operators (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_operator ON sessions (operator_id);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    -- JSON of what the target was before and after ('' where there is none).
    before TEXT NOT NULL DEFAULT '',
    after TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE FUNCTION octopus_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION octopus_audit_is_append_only();
