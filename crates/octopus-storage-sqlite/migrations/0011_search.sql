-- Octopus schema, version 11: the consoles' order search. An order is found by any id it is
-- known by (the merchant's order id across merchants, a bank reference, an upstream reference;
-- payment_uid is unique already), and the filtered lists page newest first by merchant, by
-- status, by channel (orders_channel_created, version 5) or over everything.

CREATE INDEX orders_merchant_order_id ON orders (merchant_order_id);
CREATE INDEX orders_bank_reference ON orders (bank_reference) WHERE bank_reference <> '';
CREATE INDEX upstream_references_reference ON upstream_references (reference);
CREATE INDEX orders_merchant_created ON orders (merchant_uid, created_at);
CREATE INDEX orders_status_created ON orders (payment_status, created_at);
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX journal_entries_order ON journal_entries (order_id);
