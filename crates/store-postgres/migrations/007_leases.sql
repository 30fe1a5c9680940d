-- Each shard's writer holds a lease (design: "Several nodes"): granted by an upsert that bumps
-- the epoch, timed by the database's clock only, renewed well before it expires. Every commit
-- of a shard moves its lease row's last_seq WHERE owner and epoch are still the writer's and the
-- lease has not expired; when that changes no row, cashier_lease_held aborts the statement, and
-- with it everything the commit wrote, with its own SQLSTATE, CX002.
CREATE TABLE cashier_leases (
    shard       INTEGER     PRIMARY KEY,
    owner       TEXT        NOT NULL,
    epoch       BIGINT      NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    last_seq    BIGINT      NOT NULL DEFAULT 0
);

CREATE FUNCTION cashier_lease_held(fenced BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    IF fenced <> 1 THEN
        RAISE EXCEPTION 'this writer no longer holds the lease of its shard: another node writes it'
            USING ERRCODE = 'CX002';
    END IF;
    RETURN fenced;
END $$;
