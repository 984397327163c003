-- Eligibility's read models and its work queue. Everything except the raw X12 exchanges and the
-- worker's retry bookkeeping can be emptied and rebuilt from the log.

-- The payer directory, written in the same transaction as the payer's events.
CREATE TABLE payers (
    payer_id    text PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL,
    profile     jsonb NOT NULL,
    retired     boolean NOT NULL DEFAULT false,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- What eligibility knows of registration's customers and coverages: folded from the
-- registration.events topic, never asked over HTTP.
CREATE TABLE customers (
    customer_id        text PRIMARY KEY,
    given_name         text,
    family_name        text,
    organisation_name  text,
    date_of_birth      date
);

CREATE TABLE coverages (
    coverage_id  text PRIMARY KEY,
    customer_id  text NOT NULL,
    payer_id     text NOT NULL,
    priority     text NOT NULL,
    terms        jsonb NOT NULL,
    ended_on     date,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX coverages_by_customer ON coverages (customer_id);

-- Every verification check and how it ended. The pending ones are the verifier's work queue:
-- attempts, next_attempt_at and lease_until are its bookkeeping (a crashed worker's lease runs
-- out and another picks the check up), last_error what the payer last did wrong.
CREATE TABLE checks (
    check_id         text PRIMARY KEY,
    customer_id      text NOT NULL,
    coverage_id      text NOT NULL,
    payer_id         text NOT NULL,
    status           text NOT NULL,            -- pending, verified, rejected, failed
    trigger          text NOT NULL,
    service_date     date NOT NULL,
    service_types    text[] NOT NULL,
    subscriber       jsonb NOT NULL,
    requested_at     timestamptz NOT NULL,
    completed_at     timestamptz,
    verified_on      date,
    valid_until      date,
    outcome          jsonb,                    -- the data of the event that ended the check
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_error       text
);
CREATE INDEX checks_due ON checks (next_attempt_at) WHERE status = 'pending';
CREATE INDEX checks_by_coverage ON checks (coverage_id, requested_at DESC);
CREATE INDEX checks_by_customer ON checks (customer_id, requested_at DESC);

-- The raw 270 sent and 271 received (or the error) of every attempt, kept for audit.
CREATE TABLE x12_exchanges (
    exchange_id  text PRIMARY KEY,
    check_id     text NOT NULL,
    attempt      integer NOT NULL,
    endpoint     text NOT NULL,
    request      text NOT NULL,
    response     text,
    error        text,
    sent_at      timestamptz NOT NULL,
    answered_at  timestamptz
);
CREATE INDEX x12_exchanges_by_check ON x12_exchanges (check_id, attempt);

-- ISA13/GS06 interchange control numbers: unique per sender, 9 digits, wrapping after a billion.
CREATE SEQUENCE x12_control_numbers MINVALUE 1 MAXVALUE 999999999 CYCLE;

CREATE TABLE program_determinations (
    determination_id  text PRIMARY KEY,
    customer_id       text NOT NULL,
    program_id        text NOT NULL,
    eligible          boolean NOT NULL,
    valid_from        date NOT NULL,
    valid_until       date NOT NULL,
    data              jsonb NOT NULL,
    determined_at     timestamptz NOT NULL
);
CREATE INDEX program_determinations_by_customer ON program_determinations (customer_id, determined_at DESC);

-- Good Faith Estimates as given to the customer.
CREATE TABLE estimates (
    estimate_id  text PRIMARY KEY,
    customer_id  text NOT NULL,
    data         jsonb NOT NULL,
    issued_at    timestamptz NOT NULL
);
CREATE INDEX estimates_by_customer ON estimates (customer_id, issued_at DESC);
