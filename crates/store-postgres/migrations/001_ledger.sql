-- The ledger: the log (events, postings) and the queryable tables, written together.
-- Ids are 16-byte big-endian UUIDs; amounts are integers in their unit (cents, 1e-9 shares);
-- assets are 'cash:USD' or a symbol; books are an account id or 'bank' / 'custody'.

CREATE TABLE meta (
    last_seq      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    business_date BIGINT            -- days since 1970-01-01; NULL until the first commit
);
INSERT INTO meta (last_seq, last_at, business_date) VALUES (0, 0, NULL);

-- Every change, in commit order. A journal's status history is its rows here.
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY,
    ulid        BYTEA    NOT NULL,
    at          BIGINT NOT NULL,    -- microseconds since 1970
    kind        TEXT    NOT NULL,
    journal_id  BYTEA,
    status_from TEXT,
    status_to   TEXT,
    detail      TEXT                 -- JSON: audit trail, ids, amounts
);
CREATE INDEX events_by_journal ON events (journal_id) WHERE journal_id IS NOT NULL;

-- Each row is a balanced pair of postings: `units` of `asset` leave `from_book` for `to_book`.
CREATE TABLE postings (
    seq       BIGINT NOT NULL,      -- the event that made it
    asset     TEXT    NOT NULL,
    units     BIGINT NOT NULL,
    from_book BYTEA    NOT NULL,
    to_book   BYTEA    NOT NULL
);

CREATE TABLE correspondents (
    id         BYTEA PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    config     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id             BYTEA PRIMARY KEY,
    correspondent  BYTEA    NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    account_number BIGINT NOT NULL UNIQUE,
    currency       TEXT    NOT NULL,
    blocks         BIGINT NOT NULL,
    limits         TEXT,
    created_at     BIGINT NOT NULL,
    profile        TEXT
);

CREATE TABLE assets (
    symbol       TEXT PRIMARY KEY,
    id           BYTEA    NOT NULL,
    name         TEXT    NOT NULL,
    exchange     TEXT    NOT NULL,
    class        TEXT    NOT NULL,
    fractionable BOOLEAN NOT NULL,
    price        BIGINT              -- 1e-9 USD
);

-- Balances and positions: one row per (book, asset).
CREATE TABLE balances (
    book       BYTEA    NOT NULL,
    asset      TEXT    NOT NULL,
    posted     BIGINT NOT NULL,
    held       BIGINT NOT NULL,
    cost_nanos TEXT,                 -- shares: cost basis in 1e-9 USD
    PRIMARY KEY (book, asset)
);

CREATE TABLE journals (
    id            BYTEA PRIMARY KEY,
    correspondent BYTEA    NOT NULL,
    entry_type    TEXT    NOT NULL,
    from_account  BYTEA    NOT NULL,
    to_account    BYTEA    NOT NULL,
    status        TEXT    NOT NULL,
    asset         TEXT    NOT NULL,
    units         BIGINT NOT NULL,
    price         BIGINT,
    description   TEXT    NOT NULL,
    extra         TEXT,
    flow          TEXT    NOT NULL,
    hold          TEXT    NOT NULL,
    limit_counted BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    booked_on     BIGINT,
    ordinal       BIGINT NOT NULL
);

CREATE TABLE transfers (
    id            BYTEA PRIMARY KEY,
    account       BYTEA    NOT NULL,
    correspondent BYTEA    NOT NULL,
    direction     TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    amount        BIGINT NOT NULL,
    status        TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE overdrafts (
    account  BYTEA    NOT NULL,
    currency TEXT    NOT NULL,
    units    BIGINT NOT NULL,
    PRIMARY KEY (account, currency)
);

CREATE TABLE idempotency_keys (
    correspondent BYTEA    NOT NULL,
    key           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    fingerprint   BYTEA    NOT NULL,
    journals      BYTEA    NOT NULL,  -- the ids it created, 16 bytes each
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (correspondent, key)
);

CREATE TABLE daily_usage (
    account   BYTEA    NOT NULL,
    limit_key TEXT    NOT NULL,
    used      BIGINT NOT NULL,
    PRIMARY KEY (account, limit_key)
);
