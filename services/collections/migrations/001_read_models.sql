-- Collections' read models. What it learns from other services (customers from registration,
-- customer invoices from invoicing, payments, plans and how to pay from payments) is folded by the
-- consumer group collections.feeds; debts, notices and placements are folded inline from its own
-- event store in the transaction that records them.

-- registration: who the customer is and how to reach them
CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    name text NOT NULL,
    contact jsonb NOT NULL,                    -- ContactDetails as registration published them
    time_zone text NOT NULL,
    flags text[] NOT NULL DEFAULT '{}',        -- concern flags: do_not_contact, deceased, ...
    bounced text[] NOT NULL DEFAULT '{}',      -- contact points that bounced since they were given
    updated_at timestamptz NOT NULL
);

-- invoicing: customer invoices and what credit notes, remittances and voids took off them
CREATE TABLE invoices (
    invoice_id text PRIMARY KEY,
    number text NOT NULL,
    customer_id text NOT NULL,
    currency text NOT NULL,
    total bigint NOT NULL,
    credited bigint NOT NULL DEFAULT 0,
    written_off bigint NOT NULL DEFAULT 0,
    transferred bigint NOT NULL DEFAULT 0,
    voided boolean NOT NULL DEFAULT false,
    issue_date date NOT NULL,
    due_date date NOT NULL,
    service_dates date[] NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX invoices_by_customer ON invoices (customer_id);

-- payments: each payment, and what it paid on which invoice
CREATE TABLE payments (
    payment_id text PRIMARY KEY,
    customer_id text NOT NULL,
    party_kind text NOT NULL,
    channel text NOT NULL,
    agency_id text,
    amount bigint NOT NULL,
    fee bigint NOT NULL,
    currency text NOT NULL,
    received_on date NOT NULL,
    reversed boolean NOT NULL DEFAULT false
);
CREATE TABLE invoice_payments (
    payment_id text NOT NULL,
    invoice_id text NOT NULL,
    amount bigint NOT NULL,
    PRIMARY KEY (invoice_id, payment_id)
);
CREATE TABLE plans (
    plan_id text PRIMARY KEY,
    customer_id text NOT NULL,
    invoice_ids text[] NOT NULL,
    status text NOT NULL,                      -- active, completed, defaulted
    updated_at timestamptz NOT NULL
);
CREATE INDEX plans_by_invoice ON plans USING gin (invoice_ids);
CREATE TABLE payment_instructions (
    business_id text PRIMARY KEY,
    business_name text NOT NULL,
    options jsonb NOT NULL,
    notes text,
    updated_at timestamptz NOT NULL
);

-- own events: one row per debt
CREATE TABLE debts (
    debt_id text PRIMARY KEY,
    invoice_id text NOT NULL UNIQUE,
    customer_id text NOT NULL,
    business_id text NOT NULL,
    status text NOT NULL,                      -- dunning, escalated, settled, returned
    last_step text,
    last_notice_at timestamptz,
    dispute_open boolean NOT NULL DEFAULT false,
    placement_id text,
    agency_id text,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX debts_in_dunning ON debts (status) WHERE status IN ('dunning', 'escalated');
CREATE INDEX debts_by_customer ON debts (customer_id);

-- notices waiting to be delivered (or delivered): the delivery worker's queue
CREATE TABLE notice_deliveries (
    notice_id text PRIMARY KEY,
    debt_id text NOT NULL,
    customer_id text NOT NULL,
    kind text NOT NULL,                        -- demand, validation
    channel text NOT NULL,                     -- email, letter
    recipient text NOT NULL,
    contact_point_id text NOT NULL,
    document jsonb NOT NULL,                   -- the DemandIssued or ValidationNoticeIssued data
    status text NOT NULL DEFAULT 'pending',    -- pending, sent, failed
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    last_error text,
    reference text,
    created_at timestamptz NOT NULL
);
CREATE INDEX notice_deliveries_pending ON notice_deliveries (next_attempt_at) WHERE status = 'pending';

-- letters queued for the print shop
CREATE TABLE letters (
    letter_id text PRIMARY KEY,
    notice_id text NOT NULL UNIQUE,
    customer_id text NOT NULL,
    address_lines text[] NOT NULL,
    pdf bytea NOT NULL,
    queued_at timestamptz NOT NULL,
    printed_at timestamptz
);

-- skip-trace tasks for staff
CREATE TABLE verification_tasks (
    debt_id text NOT NULL,
    customer_id text NOT NULL,
    channel text NOT NULL,
    contact_point_id text,
    reason text NOT NULL,
    status text NOT NULL,                      -- open, resolved
    requested_at timestamptz NOT NULL,
    resolved_at timestamptz,
    PRIMARY KEY (debt_id, requested_at)
);
CREATE INDEX verification_tasks_open ON verification_tasks (customer_id) WHERE status = 'open';

-- placements with agencies
CREATE TABLE placements (
    placement_id text PRIMARY KEY,
    debt_id text NOT NULL,
    customer_id text NOT NULL,
    agency_id text NOT NULL,
    account_reference text NOT NULL,
    status text NOT NULL,                      -- placed, acknowledged, recalled, returned
    currency text NOT NULL,
    placed_balance bigint NOT NULL,
    collected bigint NOT NULL DEFAULT 0,
    fees bigint NOT NULL DEFAULT 0,
    agency_reference text,
    escalated_at timestamptz NOT NULL,
    closed_reason text,
    updated_at timestamptz NOT NULL
);
CREATE INDEX placements_by_agency ON placements (agency_id, status);
