-- Postings move into the log: an event's balanced pair of postings (it has at most one) is in
-- its own row, one row fewer per booked journal. `postings` stays readable, as a view.
ALTER TABLE events ADD COLUMN asset TEXT, ADD COLUMN units BIGINT, ADD COLUMN from_book BYTEA, ADD COLUMN to_book BYTEA;
UPDATE events e SET asset = p.asset, units = p.units, from_book = p.from_book, to_book = p.to_book FROM postings p WHERE p.seq = e.seq;
DROP TABLE postings;
CREATE VIEW postings AS SELECT seq, asset, units, from_book, to_book FROM events WHERE units IS NOT NULL;
