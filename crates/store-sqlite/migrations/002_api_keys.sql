-- API keys: only the SHA-256 of each secret is kept. 'correspondent' is NULL for operator keys.
CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    correspondent BLOB,
    role          TEXT    NOT NULL,
    secret_sha256 BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked       INTEGER NOT NULL
) WITHOUT ROWID;
