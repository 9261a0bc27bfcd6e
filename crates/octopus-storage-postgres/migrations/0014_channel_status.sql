-- Octopus schema, version 14: a channel's orders of one status, newest first (an operator's
-- "failed orders on this channel"). Without it such a list reads the channel's orders and keeps
-- those of the status, a page's window at a time (octopus_storage::search): a rare status then
-- answered short pages (docs/benchmarks.md, "Console search").
CREATE INDEX orders_channel_status_created ON orders (channel, payment_status, created_at);
