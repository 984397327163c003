-- Payments' read models and work tables. Event streams live in the shared event store; these
-- tables are derived from events (invoicing's and our own) and can be rebuilt from the log,
-- except remittance_documents and gateway_notifications, which keep what arrived (the raw 835s,
-- the gateway notifications already taken, for replay protection).

-- what invoicing told us about its invoices: what each asks, before payments
CREATE TABLE invoices (
    invoice_id text PRIMARY KEY,
    number text NOT NULL,
    customer_id text NOT NULL,
    billed_party text NOT NULL,  -- customer, payer
    payer_id text,
    payer_kind text,
    currency text NOT NULL,
    total bigint NOT NULL,
    credited bigint NOT NULL DEFAULT 0,
    written_off bigint NOT NULL DEFAULT 0,
    transferred bigint NOT NULL DEFAULT 0,
    voided boolean NOT NULL DEFAULT false,
    issue_date date NOT NULL,
    due_date date NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX invoices_by_customer ON invoices (customer_id, due_date);
CREATE INDEX invoices_by_number ON invoices (number);

-- payments, and what each one paid
CREATE TABLE payments (
    payment_id text PRIMARY KEY,
    customer_id text NOT NULL,
    party jsonb NOT NULL,
    party_kind text NOT NULL,
    payer_id text,
    method text NOT NULL,
    channel text NOT NULL,
    amount bigint NOT NULL,
    fee bigint NOT NULL,
    currency text NOT NULL,
    reference text,
    received_on date NOT NULL,
    allocated bigint NOT NULL DEFAULT 0,
    refunded bigint NOT NULL DEFAULT 0,
    reversed boolean NOT NULL DEFAULT false,
    reversal_reason text,
    remittance_id text,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX payments_by_customer ON payments (customer_id, recorded_at);

CREATE TABLE allocations (
    payment_id text NOT NULL,
    invoice_id text NOT NULL,
    customer_id text NOT NULL,
    amount bigint NOT NULL,
    PRIMARY KEY (payment_id, invoice_id)
);
CREATE INDEX allocations_by_invoice ON allocations (invoice_id);

CREATE TABLE refunds (
    refund_id text PRIMARY KEY,
    payment_id text NOT NULL,
    customer_id text NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    method text NOT NULL,
    reference text,
    reason text NOT NULL,
    refunded_at timestamptz NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);

CREATE TABLE plans (
    plan_id text PRIMARY KEY,
    customer_id text NOT NULL,
    status text NOT NULL,  -- active, completed, defaulted
    invoice_ids text[] NOT NULL,
    currency text NOT NULL,
    total bigint NOT NULL,
    paid_to_date bigint NOT NULL DEFAULT 0,
    terms jsonb NOT NULL,
    missed integer[] NOT NULL DEFAULT '{}',
    agreed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX plans_by_customer ON plans (customer_id);
CREATE INDEX active_plans ON plans (status) WHERE status = 'active';

-- every PaymentMissed, by due item
CREATE TABLE missed_payments (
    due_item text PRIMARY KEY,  -- invoice:<id> or plan:<id>:<sequence>
    customer_id text NOT NULL,
    item text NOT NULL,
    invoice_id text,
    plan_id text,
    instalment integer,
    due_date date NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    days_overdue integer NOT NULL,
    as_of date NOT NULL,
    detected_at timestamptz NOT NULL
);
CREATE INDEX missed_by_customer ON missed_payments (customer_id);

CREATE TABLE remittances (
    remittance_id text PRIMARY KEY,
    payer_id text,
    payer_name text NOT NULL,
    trace_number text NOT NULL,
    payment_amount bigint NOT NULL,
    payment_date date NOT NULL,
    currency text NOT NULL,
    unmatched_amount bigint NOT NULL,
    posted jsonb NOT NULL,
    posted_at timestamptz NOT NULL
);

CREATE TABLE payment_instructions (
    business_id text PRIMARY KEY,
    instructions jsonb NOT NULL,
    version integer NOT NULL,
    published_at timestamptz NOT NULL
);

-- what arrived, kept as it came
CREATE TABLE remittance_documents (
    remittance_id text PRIMARY KEY,
    sha256 text NOT NULL,
    document text NOT NULL,
    received_at timestamptz NOT NULL
);

CREATE TABLE gateway_notifications (
    gateway text NOT NULL,
    notification_id text NOT NULL,
    notification_type text NOT NULL,
    outcome text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (gateway, notification_id)
);
