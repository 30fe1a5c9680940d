-- A customer's contact email, unique within its correspondent (the ledger checks it first).
ALTER TABLE accounts ADD COLUMN email TEXT;
CREATE UNIQUE INDEX accounts_email ON accounts (correspondent, email) WHERE email IS NOT NULL;
