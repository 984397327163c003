-- How each business's customers can pay, as payments published it; printed on invoices and
-- statements under "How to pay". Rebuilt with the feeds.
CREATE TABLE payment_instructions (
    business_id text PRIMARY KEY,
    options jsonb NOT NULL,
    notes text,
    updated_at timestamptz NOT NULL
);
