-- Invoicing's read models and work tables. Event streams live in the shared event store; these
-- tables are derived from events (registration's, eligibility's, payments' and our own) and can
-- be rebuilt from the log, except invoice_series, claim_documents and print_queue, which hold
-- what was produced (numbers handed out, documents sent).

-- what registration told us about customers and their coverages
CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    kind text NOT NULL,
    given_name text,
    family_name text,
    organisation_name text,
    date_of_birth date,
    contact jsonb NOT NULL,
    flags jsonb NOT NULL DEFAULT '[]',
    bounced_contact_points jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL
);

CREATE TABLE coverages (
    coverage_id text PRIMARY KEY,
    customer_id text NOT NULL,
    payer_id text NOT NULL,
    priority text NOT NULL,
    terms jsonb NOT NULL,
    ended_on date,
    updated_at timestamptz NOT NULL
);
CREATE INDEX coverages_by_customer ON coverages (customer_id);

-- what eligibility told us: the payer directory, the latest verification outcome per coverage,
-- and the customers' estimates
CREATE TABLE payers (
    payer_id text PRIMARY KEY,
    profile jsonb NOT NULL,
    retired boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);

CREATE TABLE verifications (
    coverage_id text PRIMARY KEY,
    customer_id text NOT NULL,
    outcome text NOT NULL,  -- verified, rejected, failed
    check_id text NOT NULL,
    valid_until date,
    coverage_from date,
    coverage_to date,
    cost_shares jsonb NOT NULL DEFAULT '[]',
    currency text,  -- of the cost shares' amounts
    updated_at timestamptz NOT NULL
);

CREATE TABLE estimates (
    estimate_id text PRIMARY KEY,
    customer_id text NOT NULL,
    service_date date NOT NULL,
    currency text NOT NULL,
    customer_portion bigint NOT NULL,
    flag_threshold bigint NOT NULL,
    valid_until date NOT NULL,
    issued_at timestamptz NOT NULL
);
CREATE INDEX estimates_by_customer ON estimates (customer_id, service_date);

-- our own: crosswalk versions, charges, invoices, statements
CREATE TABLE crosswalks (
    payer_id text NOT NULL,
    version int NOT NULL,
    effective_from date NOT NULL,
    effective_to date,
    entries jsonb NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (payer_id, version)
);

CREATE TABLE charges (
    charge_id text PRIMARY KEY,
    customer_id text NOT NULL,
    service_date date NOT NULL,
    encounter text NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,  -- unbilled, billed, reversed
    bill_id text,
    charge jsonb NOT NULL,  -- the ChargeRecorded event
    version int NOT NULL,  -- of the charge's stream
    recorded_at timestamptz NOT NULL
);
CREATE INDEX charges_unbilled ON charges (customer_id, encounter) WHERE status = 'unbilled';
CREATE INDEX charges_by_customer ON charges (customer_id, service_date);

CREATE TABLE invoices (
    invoice_id text PRIMARY KEY,
    number text UNIQUE,
    series text,
    customer_id text NOT NULL,
    bill_id text,
    party_kind text NOT NULL,
    payer_id text,
    coverage_id text,
    responsibility text NOT NULL,
    party_name text NOT NULL,
    status text NOT NULL,  -- held, issued, voided
    hold_reasons jsonb NOT NULL DEFAULT '[]',
    total bigint NOT NULL DEFAULT 0,
    open_amount bigint NOT NULL DEFAULT 0,
    currency text,
    issue_date date,
    due_date date,
    transferred_from text,
    flagged boolean NOT NULL DEFAULT false,
    delivery text,  -- sent, failed, or null when not delivered by us (claims, not yet)
    claim_document_id text,
    updated_at timestamptz NOT NULL
);
CREATE INDEX invoices_by_customer ON invoices (customer_id, issue_date);
CREATE INDEX invoices_held ON invoices (payer_id) WHERE status = 'held';

CREATE TABLE statements (
    statement_id text PRIMARY KEY,
    number text NOT NULL UNIQUE,
    customer_id text NOT NULL,
    statement_date date NOT NULL,
    total_open bigint NOT NULL,
    currency text NOT NULL,
    delivery text,
    issued_at timestamptz NOT NULL
);

-- gap-free numbering: one row per series, locked by the transaction that issues a number, so a
-- number is used exactly when the invoice that took it commits
CREATE TABLE invoice_series (
    series text PRIMARY KEY,
    last_number bigint NOT NULL
);

-- 837P interchanges as produced (and validated), kept for audit and submission
CREATE SEQUENCE claim_control_numbers MINVALUE 1 MAXVALUE 999999999 CYCLE;
CREATE TABLE claim_documents (
    document_id text PRIMARY KEY,
    invoice_id text NOT NULL,
    control_number int NOT NULL,
    x12 text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX claim_documents_by_invoice ON claim_documents (invoice_id);

-- documents waiting to go out (invoices, credit notes, statements by e-mail or letter), claimed by the
-- delivery worker with a lease
CREATE TABLE deliveries (
    document_kind text NOT NULL,  -- invoice, credit_note, statement
    document_id text NOT NULL,
    customer_id text NOT NULL,
    invoice_id text,  -- a credit note's invoice, whose stream records the outcome
    status text NOT NULL,  -- pending, sent, failed
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    leased_until timestamptz,
    last_error text,
    PRIMARY KEY (document_kind, document_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

-- letters for the print room
CREATE TABLE print_queue (
    job_id text PRIMARY KEY,
    document_kind text NOT NULL,
    document_id text NOT NULL,
    recipient_name text NOT NULL,
    address_lines jsonb NOT NULL,
    pdf bytea NOT NULL,
    queued_at timestamptz NOT NULL,
    printed_at timestamptz
);
CREATE INDEX print_queue_waiting ON print_queue (queued_at) WHERE printed_at IS NULL;
-- one letter per document: a worker that queued it and crashed before recording so finds it again
CREATE UNIQUE INDEX print_queue_one_letter ON print_queue (document_kind, document_id);
