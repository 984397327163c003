-- What payments told us was paid on each invoice (its allocations, less those released or
-- reversed): a customer's statement lists only what is still owed. Rebuilt with the feeds.
CREATE TABLE invoice_payments (
    invoice_id text PRIMARY KEY,
    customer_id text NOT NULL,
    paid bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
