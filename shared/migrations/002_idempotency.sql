-- Responses to POSTs that carried an Idempotency-Key, stored in the same transaction as the
-- events they caused, so a retry replays the first answer instead of doing the work twice.
CREATE TABLE idempotency_keys (
    principal        text NOT NULL,
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    status_code      integer NOT NULL,
    response_body    jsonb NOT NULL,
    response_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, idempotency_key)
);
