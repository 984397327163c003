-- Which plan holds an invoice (the balance query and plan counting ask for every invoice they
-- read), and which invoices fell due before a date (the missed-payment scheduler's candidates).
CREATE INDEX plans_by_invoice ON plans USING gin (invoice_ids);
CREATE INDEX invoices_by_due_date ON invoices (due_date);
