-- Registration's read models. Both can be emptied and rebuilt from the log.

-- Who might be the same customer: written in the same transaction as the events, so a duplicate
-- registered a moment ago is already found. Rebuilt from the service's own event store.
CREATE TABLE customer_identities (
    customer_id  text NOT NULL,
    kind         text NOT NULL,      -- 'name_dob' or 'email'
    value        text NOT NULL,      -- normalised
    PRIMARY KEY (kind, value, customer_id)
);

-- Search by name, e-mail, phone or member id. Fed from the registration.events topic through the
-- platform consumer, like any other service's read model of registration would be. One row per
-- customer, computed by one pure fold (application/search.py) both live and when rebuilt.
CREATE TABLE customer_search (
    customer_id      text PRIMARY KEY,
    display_name     text NOT NULL,
    sort_name        text NOT NULL,
    date_of_birth    date,
    emails           text[] NOT NULL,
    phones           text[] NOT NULL,
    member_ids       text[] NOT NULL,
    flags            text[] NOT NULL,
    coverages        jsonb NOT NULL,     -- coverage id -> {"member_id": ..., "ended": bool}
    active_coverages integer NOT NULL,
    -- how many events were folded in: a redelivery that slipped past the inbox would show here
    events_applied   integer NOT NULL,
    last_event_id    uuid NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX customer_search_sort ON customer_search (sort_name, customer_id);
CREATE INDEX customer_search_emails ON customer_search USING gin (emails);
CREATE INDEX customer_search_phones ON customer_search USING gin (phones);
CREATE INDEX customer_search_member_ids ON customer_search USING gin (member_ids);
