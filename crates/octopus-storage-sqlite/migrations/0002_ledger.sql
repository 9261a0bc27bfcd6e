-- Octopus schema, version 2: fees and the double-entry ledger.
-- Ledger amounts are decimal TEXT with six places; merchant accounts cache their balance
-- (never negative), the gateway's own accounts are computed from their postings.

ALTER TABLE orders ADD COLUMN fee TEXT NOT NULL DEFAULT '0';
ALTER TABLE orders ADD COLUMN fee_rule TEXT NOT NULL DEFAULT '';
CREATE INDEX orders_accounting_failed ON orders (id) WHERE accounting_status = 'failed';

CREATE TABLE fee_rules (
    merchant_id     INTEGER NOT NULL REFERENCES merchants (id),
    payment         TEXT NOT NULL,
    accounting_type TEXT NOT NULL,
    percent         TEXT NOT NULL,
    fixed           TEXT NOT NULL,
    minimum         TEXT NOT NULL,
    maximum         TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, payment, accounting_type)
);

CREATE TABLE ledger_accounts (
    id          INTEGER PRIMARY KEY,
    account_key TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    merchant_id INTEGER REFERENCES merchants (id),
    channel     TEXT,
    currency    TEXT NOT NULL,
    balance     TEXT,
    updated_at  INTEGER NOT NULL,
    CHECK (kind NOT IN ('available', 'held') OR (balance IS NOT NULL AND balance NOT LIKE '-%'))
);
CREATE INDEX ledger_accounts_merchant ON ledger_accounts (merchant_id) WHERE merchant_id IS NOT NULL;

CREATE TABLE journal_entries (
    id              INTEGER PRIMARY KEY,
    entry_key       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    order_id        INTEGER REFERENCES orders (id),
    merchant_id     INTEGER REFERENCES merchants (id),
    accounting_type TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          TEXT NOT NULL,
    fee             TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX journal_entries_merchant ON journal_entries (merchant_id, id);

CREATE TABLE postings (
    id            INTEGER PRIMARY KEY,
    entry_id      INTEGER NOT NULL REFERENCES journal_entries (id),
    account_id    INTEGER NOT NULL REFERENCES ledger_accounts (id),
    amount        TEXT NOT NULL,
    balance_after TEXT
);
CREATE INDEX postings_entry ON postings (entry_id);

-- The journal is append-only.
CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
