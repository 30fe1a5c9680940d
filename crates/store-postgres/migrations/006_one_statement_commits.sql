-- A batch of upserts is written by one statement (its own transaction): the log's end moves in
-- the same statement, and when it did not continue where the batch expects, this aborts the
-- statement and with it everything the batch wrote, with its own SQLSTATE, CX001.
CREATE FUNCTION cashier_log_continues(moved BIGINT, after_seq BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    IF moved <> 1 THEN
        RAISE EXCEPTION 'the log does not end at event %: another writer has committed to this store', after_seq
            USING ERRCODE = 'CX001';
    END IF;
    RETURN moved;
END $$;
