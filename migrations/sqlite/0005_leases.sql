-- Several replicas on one database: who runs each connector.

-- One row per connector ever leased. The holder runs its poller and
-- dispatcher until expires_at_us (the database's clock, in microseconds)
-- unless it renews. token grows at every acquisition: a write that depends
-- on owning the connector carries the token it was given, and is refused
-- once another replica has taken the lease (fencing).
CREATE TABLE leases (
    connector     TEXT    PRIMARY KEY,
    holder        TEXT,               -- replica id; NULL once released
    token         INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    acquired_at   TEXT    NOT NULL,
    renewed_at    TEXT    NOT NULL
);

-- The replicas alive now (seen_at_us recent): how many share the connectors,
-- and what `chansync connectors` shows for an owner.
CREATE TABLE replicas (
    id                 TEXT    PRIMARY KEY,   -- host:port of its listener
    pid                INTEGER NOT NULL,
    version            TEXT    NOT NULL,
    config_fingerprint TEXT    NOT NULL,
    started_at         TEXT    NOT NULL,
    seen_at_us         INTEGER NOT NULL
);
