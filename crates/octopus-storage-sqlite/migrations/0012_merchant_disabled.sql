-- Octopus schema, version 12: a merchant disabled by the operator. Its keys (live and test)
-- are refused as if revoked while it is; its orders, balances and callbacks go on.
ALTER TABLE merchants ADD COLUMN disabled_at INTEGER;
