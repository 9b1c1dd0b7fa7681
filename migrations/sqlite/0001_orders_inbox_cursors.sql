-- Orders as chansync keeps them: one row per (connector, external_id).
CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    connector        TEXT    NOT NULL,
    channel_kind     TEXT    NOT NULL,
    external_id      TEXT    NOT NULL,
    external_number  TEXT,
    status           TEXT    NOT NULL,
    channel_status   TEXT    NOT NULL,
    payment_status   TEXT    NOT NULL,
    fulfilled_by     TEXT    NOT NULL,
    currency         TEXT    NOT NULL,
    subtotal         TEXT    NOT NULL,
    shipping_total   TEXT    NOT NULL,
    tax_total        TEXT    NOT NULL,
    discount_total   TEXT    NOT NULL,
    total            TEXT    NOT NULL,
    placed_at        TEXT    NOT NULL,
    -- The channel's update time: as it wrote it, and in microseconds for comparing.
    updated_at       TEXT    NOT NULL,
    updated_at_us    INTEGER NOT NULL,
    customer_name    TEXT,
    customer_email   TEXT,
    shipping_address TEXT,              -- JSON, or NULL where the channel gave none
    channel_fulfillments TEXT NOT NULL DEFAULT '[]',
    content_hash     TEXT    NOT NULL,  -- of the normalized order, to tell a replay from a change
    raw              TEXT,              -- the channel's JSON, for audit
    first_seen_at    TEXT    NOT NULL,
    last_changed_at  TEXT    NOT NULL,
    UNIQUE (connector, external_id)
);
CREATE INDEX orders_status ON orders (status);
CREATE INDEX orders_connector ON orders (connector, id);

CREATE TABLE order_lines (
    order_id    INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    external_id TEXT    NOT NULL,
    sku         TEXT,               -- NULL for a line without any SKU
    channel_sku TEXT,
    title       TEXT    NOT NULL,
    quantity    INTEGER NOT NULL,
    unit_price  TEXT    NOT NULL,
    total       TEXT    NOT NULL,
    tax         TEXT    NOT NULL,
    discount    TEXT    NOT NULL,
    PRIMARY KEY (order_id, external_id)
);
CREATE INDEX order_lines_sku ON order_lines (sku);

-- Each order's history: what changed, when, and through which path.
CREATE TABLE order_events (
    id       INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    at       TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    source   TEXT    NOT NULL,
    detail   TEXT    NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Webhooks, stored before they are acknowledged. Rejected deliveries are
-- kept (event_id NULL) for inspection.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    connector    TEXT    NOT NULL,
    event_id     TEXT,
    topic        TEXT,
    state        TEXT    NOT NULL,   -- pending | done | rejected | failed
    received_at  TEXT    NOT NULL,
    processed_at TEXT,
    error        TEXT,
    headers      TEXT    NOT NULL,   -- JSON object of the delivery's headers
    body         BLOB    NOT NULL,
    UNIQUE (connector, event_id)
);
CREATE INDEX inbox_state ON inbox (state, id);

-- Each connector's poll position and how its last poll went.
CREATE TABLE poll_state (
    connector        TEXT PRIMARY KEY,
    cursor           TEXT,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_ok          INTEGER,
    last_error       TEXT,
    orders_seen      INTEGER NOT NULL DEFAULT 0,
    rate_limit       TEXT
);

-- Channel SKU -> master SKU, per connector.
CREATE TABLE sku_map (
    connector   TEXT    NOT NULL,
    channel_sku TEXT    NOT NULL,
    master_sku  TEXT    NOT NULL,
    quantity    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (connector, channel_sku, master_sku)
);
