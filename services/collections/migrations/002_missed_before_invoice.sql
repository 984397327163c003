-- A PaymentMissed may arrive before the InvoiceIssued it is about (they come on different
-- topics); it waits here until the invoice does, and the debt opens then.
CREATE TABLE missed_awaiting_invoice (
    invoice_id text PRIMARY KEY,
    missed jsonb NOT NULL,
    received_at timestamptz NOT NULL
);
