-- The demo `bank` schema, the source of cdc.bank.customers and cdc.bank.merchants (rtml/stack/postgres.py runs it
-- once, in the seeding transaction, then the seed rows from rtml/datagen/bank.py).
-- REPLICA IDENTITY FULL: a delete's (and an update's) `before` carries the whole row, not only the key.
-- account_opened_at is a `timestamp` read as UTC: with time.precision.mode=connect Debezium writes epoch ms.
CREATE SCHEMA bank;

CREATE TABLE bank.customers (
    id                text PRIMARY KEY,
    segment           text NOT NULL,
    country           char(2) NOT NULL,
    credit_limit      numeric(12, 2) NOT NULL CHECK (credit_limit >= 0),
    account_opened_at timestamp(3) NOT NULL,
    risk_flags        text[] NOT NULL DEFAULT '{}'
);
ALTER TABLE bank.customers REPLICA IDENTITY FULL;

CREATE TABLE bank.merchants (
    id       text PRIMARY KEY,
    category text NOT NULL,
    country  char(2) NOT NULL
);
ALTER TABLE bank.merchants REPLICA IDENTITY FULL;
