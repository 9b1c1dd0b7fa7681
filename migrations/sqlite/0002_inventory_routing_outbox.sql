-- Inventory, routing and push-back.

-- Per (master SKU, location). available = on_hand - reserved - safety.
-- reserved only grows through a conditional update that checks available,
-- so concurrent orders can never reserve more than there is.
CREATE TABLE stock (
    sku        TEXT    NOT NULL,
    location   TEXT    NOT NULL,
    on_hand    INTEGER NOT NULL DEFAULT 0,
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    safety     INTEGER NOT NULL DEFAULT 0 CHECK (safety >= 0),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (sku, location)
);

-- Every change to a stock row: who or what changed it, before and after.
CREATE TABLE stock_events (
    id              INTEGER PRIMARY KEY,
    at              TEXT    NOT NULL,
    sku             TEXT    NOT NULL,
    location        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,   -- set_on_hand | set_safety | reserve | release | consume
    actor           TEXT    NOT NULL,   -- cli | api | connector:NAME | order:ID
    order_id        INTEGER,
    on_hand_before  INTEGER NOT NULL,
    on_hand_after   INTEGER NOT NULL,
    reserved_before INTEGER NOT NULL,
    reserved_after  INTEGER NOT NULL,
    note            TEXT
);
CREATE INDEX stock_events_sku ON stock_events (sku, location, id);

-- What routing decided: units of a master SKU held at a location for an
-- order line. reserved until shipped (consumed) or cancelled (released).
CREATE TABLE allocations (
    id            INTEGER PRIMARY KEY,
    order_id      INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_external TEXT    NOT NULL,
    sku           TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    quantity      INTEGER NOT NULL CHECK (quantity > 0),
    state         TEXT    NOT NULL,   -- reserved | consumed | released
    created_at    TEXT    NOT NULL
);
CREATE INDEX allocations_order ON allocations (order_id);
CREATE INDEX allocations_sku ON allocations (sku, location, state);

-- Fulfilments chansync recorded (from `orders fulfil` or the admin API).
CREATE TABLE fulfillments (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    location   TEXT    NOT NULL,
    carrier    TEXT,
    tracking   TEXT,
    lines      TEXT    NOT NULL,       -- JSON [{external_id, quantity}]
    created_at TEXT    NOT NULL,
    -- For shipments another channel made (an ERP delivery): connector and
    -- its shipment id, so a shipment read twice is recorded once.
    source     TEXT    UNIQUE
);
CREATE INDEX fulfillments_order ON fulfillments (order_id);

-- Cursors of streams other than order polling (e.g. an ERP's shipments).
CREATE TABLE sync_cursors (
    connector TEXT NOT NULL,
    stream    TEXT NOT NULL,
    cursor    TEXT NOT NULL,
    PRIMARY KEY (connector, stream)
);

-- Work for the channels, written in the transaction of the change that
-- caused it. A stock row names a channel SKU; its level is computed when it
-- is sent, so many changes to one SKU coalesce into one pending row.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    connector       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,   -- stock | fulfillment | cancel
    key             TEXT    NOT NULL,   -- stock: channel SKU; otherwise the order id
    payload         TEXT    NOT NULL,   -- JSON: what is to be sent (stock: last level computed)
    state           TEXT    NOT NULL,   -- pending | sending | done | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_error      TEXT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX outbox_due ON outbox (connector, state, next_attempt_us);
-- At most one pending stock row per channel SKU: the coalescing point.
CREATE UNIQUE INDEX outbox_pending_stock ON outbox (connector, key) WHERE kind = 'stock' AND state = 'pending';

-- Where a mapping came from: config, import, or learned from an order line
-- whose channel SKU is the master SKU.
ALTER TABLE sku_map ADD COLUMN source TEXT NOT NULL DEFAULT 'config';

-- Set when chansync itself cancelled the order (`orders cancel`): a later
-- channel update that still says open does not reopen it.
ALTER TABLE orders ADD COLUMN local_status TEXT;
