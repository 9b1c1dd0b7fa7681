-- PostgreSQL's twin of migrations/sqlite/0003_outbox_key.sql.

-- Finding an order's ERP hand-over (and any row by its key) without a scan.
CREATE INDEX outbox_key ON outbox (connector, kind, key);
