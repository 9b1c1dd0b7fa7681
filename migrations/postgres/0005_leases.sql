-- PostgreSQL's twin of migrations/sqlite/0005_leases.sql (types as in 0001).

-- One row per connector ever leased. The holder runs its poller and
-- dispatcher until expires_at_us (the database's clock, in microseconds)
-- unless it renews. token grows at every acquisition: a write that depends
-- on owning the connector carries the token it was given, and is refused
-- once another replica has taken the lease (fencing).
CREATE TABLE leases (
    connector     TEXT COLLATE "C" PRIMARY KEY,
    holder        TEXT COLLATE "C",            -- replica id; NULL once released
    token         BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL,
    acquired_at   TEXT COLLATE "C" NOT NULL,
    renewed_at    TEXT COLLATE "C" NOT NULL
);

-- The replicas alive now (seen_at_us recent): how many share the connectors,
-- and what `chansync connectors` shows for an owner.
CREATE TABLE replicas (
    id                 TEXT COLLATE "C" PRIMARY KEY,   -- host:port of its listener
    pid                BIGINT NOT NULL,
    version            TEXT COLLATE "C" NOT NULL,
    config_fingerprint TEXT COLLATE "C" NOT NULL,
    started_at         TEXT COLLATE "C" NOT NULL,
    seen_at_us         BIGINT NOT NULL
);
