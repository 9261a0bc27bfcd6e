-- Octopus schema, version 2: fees and the double-entry ledger.
-- Merchant accounts cache their balance (never negative, enforced here too); the gateway's own
-- accounts are computed from their postings. The journal is append-only.

ALTER TABLE orders ADD COLUMN fee NUMERIC NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN fee_rule TEXT NOT NULL DEFAULT '';
CREATE INDEX orders_accounting_failed ON orders (id) WHERE accounting_status = 'failed';

CREATE TABLE fee_rules (
    merchant_id     BIGINT NOT NULL REFERENCES merchants (id),
    payment         TEXT NOT NULL,
    accounting_type TEXT NOT NULL,
    percent         NUMERIC NOT NULL,
    fixed           NUMERIC NOT NULL,
    minimum         NUMERIC NOT NULL,
    maximum         NUMERIC,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, payment, accounting_type)
);

CREATE TABLE ledger_accounts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    merchant_id BIGINT REFERENCES merchants (id),
    channel     TEXT,
    currency    TEXT NOT NULL,
    balance     NUMERIC(38, 6),
    updated_at  BIGINT NOT NULL,
    CHECK (kind NOT IN ('available', 'held') OR (balance IS NOT NULL AND balance >= 0))
);
CREATE INDEX ledger_accounts_merchant ON ledger_accounts (merchant_id) WHERE merchant_id IS NOT NULL;

CREATE TABLE journal_entries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_key       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    order_id        BIGINT REFERENCES orders (id),
    merchant_id     BIGINT REFERENCES merchants (id),
    accounting_type TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          NUMERIC(38, 6) NOT NULL,
    fee             NUMERIC(38, 6) NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX journal_entries_merchant ON journal_entries (merchant_id, id);

CREATE TABLE postings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id      BIGINT NOT NULL REFERENCES journal_entries (id),
    account_id    BIGINT NOT NULL REFERENCES ledger_accounts (id),
    amount        NUMERIC(38, 6) NOT NULL,
    balance_after NUMERIC(38, 6)
);
CREATE INDEX postings_entry ON postings (entry_id);

CREATE FUNCTION octopus_journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION octopus_journal_is_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION octopus_journal_is_append_only();
