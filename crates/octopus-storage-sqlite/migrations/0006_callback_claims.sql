-- Octopus schema, version 6: claims of callbacks that cost the same however large the backlog.
--
-- `head` marks the oldest pending callback of its order, the only one that may go out (the
-- callbacks of an order go out in order). It is set when a callback is queued with none of
-- its order pending, and passed on to the next one when the head is settled (both with the
-- order locked), so a claim no longer looks for older callbacks row by row.
--
-- `callbacks_claimable` holds only those heads, by host and due time: a claim walks the
-- hosts that have any (two index probes each) and reads per host only the few it takes.
-- The old `callbacks_due` index made a claim read every due callback of every host it could
-- not take, which under a backlog for one host was the whole backlog on every claim.
ALTER TABLE callbacks ADD COLUMN head INTEGER NOT NULL DEFAULT 0;
UPDATE callbacks AS c SET head = 1
 WHERE c.state = 'pending'
   AND NOT EXISTS (SELECT 1 FROM callbacks p
                   WHERE p.order_id = c.order_id AND p.state = 'pending' AND p.id < c.id);
CREATE INDEX callbacks_claimable ON callbacks (host, next_attempt_at) WHERE state = 'pending' AND head;
DROP INDEX callbacks_due;
