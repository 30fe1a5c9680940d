-- API keys: only the SHA-256 of each secret is kept. 'correspondent' is NULL for operator keys.
CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    correspondent BYTEA,
    role          TEXT    NOT NULL,
    secret_sha256 BYTEA    NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked       BOOLEAN NOT NULL
);
