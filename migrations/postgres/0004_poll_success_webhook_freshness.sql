-- PostgreSQL's twin of migrations/sqlite/0004_poll_success_webhook_freshness.sql
-- (types as in 0001).

-- When each connector last polled successfully (last_finished_at is the last
-- poll whatever its outcome); a poll that ended well before this migration
-- counts as its last success.
ALTER TABLE poll_state ADD COLUMN last_ok_at TEXT COLLATE "C";
UPDATE poll_state SET last_ok_at = last_finished_at WHERE last_ok = 1;

-- The newest delivery of a connector, read by the status page and
-- `chansync connectors`, is one step down this index. (The oldest pending
-- delivery is still found through inbox_state, named in its query.)
CREATE INDEX inbox_received ON inbox (connector, received_at);
