-- Account resources: interconnection (inbound routes, SIP hosts, SIP
-- credentials), phone numbers, call detail records, charges and their
-- rollups, payments, billing info and API keys. Every table carries
-- account_id and every index starts with it, so tenant queries stay on one
-- account's rows and the schema can later be distributed by account.

CREATE TABLE inbound_routes (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    name       text NOT NULL,
    target     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Lets numbers reference a route together with its account, so a number
    -- can only ever point at a route of its own account.
    UNIQUE (account_id, id)
);
CREATE UNIQUE INDEX inbound_routes_name ON inbound_routes (account_id, lower(name));

-- IP-authenticated SIP hosts: a single address is stored as /32 or /128.
CREATE TABLE sip_hosts (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    address     cidr NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sip_hosts_address ON sip_hosts (account_id, address);

-- SIP digest credentials. The registrar needs H(username:realm:password),
-- so that is what is kept (SHA-256, RFC 8760); the password itself is
-- generated, shown once and never stored. User names are unique within an
-- account (the registrar identifies the account by its tech prefix), which
-- also means one account cannot learn another's user names.
CREATE TABLE sip_credentials (
    id                  bigserial PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES accounts (id),
    username            text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,31}$'),
    ha1_sha256          text NOT NULL,
    description         text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sip_credentials_username ON sip_credentials (account_id, username);

-- Phone numbers. A released number leaves the account's list but keeps its
-- row, so its call records still make sense; only one account holds a
-- number at a time.
CREATE TABLE dids (
    id             bigserial PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id),
    number         text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    label          text NOT NULL DEFAULT '',
    route_id       bigint,
    monthly_micros bigint NOT NULL DEFAULT 0 CHECK (monthly_micros >= 0),
    acquired_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    FOREIGN KEY (account_id, route_id) REFERENCES inbound_routes (account_id, id)
);
CREATE UNIQUE INDEX dids_number_held ON dids (number) WHERE released_at IS NULL;
CREATE INDEX dids_account_number ON dids (account_id, number) WHERE released_at IS NULL;
CREATE INDEX dids_account_route ON dids (account_id, route_id) WHERE route_id IS NOT NULL;

-- Call detail records, written by the switch; the portal only reads them.
-- Keyset pagination walks (started_at, id) newest first.
CREATE TABLE cdrs (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    started_at    timestamptz NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number   text NOT NULL,
    to_number     text NOT NULL,
    disposition   text NOT NULL CHECK (disposition IN ('answered', 'no_answer', 'busy', 'failed')),
    duration_secs integer NOT NULL DEFAULT 0 CHECK (duration_secs >= 0),
    billed_secs   integer NOT NULL DEFAULT 0 CHECK (billed_secs >= 0),
    rate_micros   bigint NOT NULL DEFAULT 0,
    charge_micros bigint NOT NULL DEFAULT 0,
    call_id       text NOT NULL DEFAULT ''
);
CREATE INDEX cdrs_account_started ON cdrs (account_id, started_at DESC, id DESC);

-- Calls per account, UTC day, direction and disposition: dashboards and
-- report totals read this instead of aggregating raw records.
CREATE TABLE cdr_daily (
    account_id    bigint NOT NULL,
    day           date NOT NULL,
    direction     text NOT NULL,
    disposition   text NOT NULL,
    calls         bigint NOT NULL,
    duration_secs bigint NOT NULL,
    billed_secs   bigint NOT NULL,
    charge_micros bigint NOT NULL,
    PRIMARY KEY (account_id, day, direction, disposition)
);

-- Statement-level triggers with transition tables keep the rollups exact
-- for single inserts and for COPY of millions of rows alike, with one
-- aggregate per statement instead of one upsert per row.
CREATE FUNCTION cdrs_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cdr_daily AS d (account_id, day, direction, disposition, calls, duration_secs, billed_secs, charge_micros)
    SELECT account_id, (started_at AT TIME ZONE 'UTC')::date, direction, disposition,
           count(*), sum(duration_secs), sum(billed_secs), sum(charge_micros)
    FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (account_id, day, direction, disposition) DO UPDATE SET
        calls = d.calls + EXCLUDED.calls, duration_secs = d.duration_secs + EXCLUDED.duration_secs,
        billed_secs = d.billed_secs + EXCLUDED.billed_secs, charge_micros = d.charge_micros + EXCLUDED.charge_micros;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_rollup_insert AFTER INSERT ON cdrs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cdrs_rollup_insert();

-- Purging old records keeps the rollups right.
CREATE FUNCTION cdrs_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cdr_daily d SET calls = d.calls - o.calls, duration_secs = d.duration_secs - o.duration_secs,
        billed_secs = d.billed_secs - o.billed_secs, charge_micros = d.charge_micros - o.charge_micros
    FROM (SELECT account_id, (started_at AT TIME ZONE 'UTC')::date AS day, direction, disposition,
                 count(*) AS calls, sum(duration_secs) AS duration_secs, sum(billed_secs) AS billed_secs,
                 sum(charge_micros) AS charge_micros
          FROM old_rows GROUP BY 1, 2, 3, 4) o
    WHERE d.account_id = o.account_id AND d.day = o.day AND d.direction = o.direction AND d.disposition = o.disposition;
    DELETE FROM cdr_daily WHERE account_id IN (SELECT DISTINCT account_id FROM old_rows) AND calls = 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_rollup_delete AFTER DELETE ON cdrs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cdrs_rollup_delete();

-- A call record is a fact: corrections are new records, never edits.
CREATE FUNCTION resources_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows cannot be changed', TG_TABLE_NAME USING ERRCODE = '42501';
END;
$$;
CREATE TRIGGER cdrs_no_update BEFORE UPDATE ON cdrs
    FOR EACH ROW EXECUTE FUNCTION resources_immutable();

-- The charges ledger. Usage is charged per account and UTC day from the
-- rated calls; rentals, messaging and taxes are their own lines. A
-- correction is a new line with a negative amount; lines never change.
CREATE TABLE charges (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    occurred_at   timestamptz NOT NULL,
    category      text NOT NULL CHECK (category IN ('usage', 'number_rental', 'messaging', 'taxes')),
    description   text NOT NULL DEFAULT '',
    amount_micros bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_account_occurred ON charges (account_id, occurred_at DESC, id DESC);
CREATE TRIGGER charges_no_change BEFORE UPDATE OR DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION resources_immutable();

-- Per-account charge rollups by UTC day and month and category, maintained
-- as charges are recorded; the billing pages and the family summaries read
-- these, never the raw ledger or the call records.
CREATE TABLE charge_daily (
    account_id    bigint NOT NULL,
    day           date NOT NULL,
    category      text NOT NULL,
    amount_micros bigint NOT NULL,
    lines         bigint NOT NULL,
    PRIMARY KEY (account_id, day, category)
);
CREATE TABLE charge_monthly (
    account_id    bigint NOT NULL,
    month         date NOT NULL CHECK (extract(day FROM month) = 1),
    category      text NOT NULL,
    amount_micros bigint NOT NULL,
    lines         bigint NOT NULL,
    PRIMARY KEY (account_id, month, category)
);
CREATE INDEX charge_monthly_month ON charge_monthly (month, account_id);

-- Recording a charge updates both rollups and lowers the balance, in the
-- same statement as the insert.
CREATE FUNCTION charges_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO charge_daily AS d (account_id, day, category, amount_micros, lines)
    SELECT account_id, (occurred_at AT TIME ZONE 'UTC')::date, category, sum(amount_micros), count(*)
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (account_id, day, category) DO UPDATE SET
        amount_micros = d.amount_micros + EXCLUDED.amount_micros, lines = d.lines + EXCLUDED.lines;
    INSERT INTO charge_monthly AS m (account_id, month, category, amount_micros, lines)
    SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date, category, sum(amount_micros), count(*)
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (account_id, month, category) DO UPDATE SET
        amount_micros = m.amount_micros + EXCLUDED.amount_micros, lines = m.lines + EXCLUDED.lines;
    UPDATE accounts a SET balance_micros = a.balance_micros - t.total
    FROM (SELECT account_id, sum(amount_micros) AS total FROM new_rows GROUP BY 1) t
    WHERE a.id = t.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER charges_rollup AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION charges_rollup();

-- Payments. A card payment is recorded as pending before the processor is
-- asked, so a crash in between leaves a trace instead of a lost payment;
-- the idempotency key makes a resubmitted form charge once.
CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    amount_micros   bigint NOT NULL CHECK (amount_micros > 0),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    method          text NOT NULL CHECK (method IN ('card', 'bank_transfer')),
    card_brand      text NOT NULL DEFAULT '',
    card_last4      text NOT NULL DEFAULT '' CHECK (card_last4 ~ '^([0-9]{4})?$'),
    processor_ref   text NOT NULL DEFAULT '',
    failure         text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL,
    created_by      bigint REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    UNIQUE (account_id, idempotency_key)
);
CREATE INDEX payments_account_created ON payments (account_id, created_at DESC, id DESC);

-- A payment raises the balance once, when it succeeds; a settled payment
-- never changes again.
CREATE FUNCTION payments_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'a settled payment cannot be changed' USING ERRCODE = '42501';
    END IF;
    IF NEW.status = 'succeeded' THEN
        UPDATE accounts SET balance_micros = balance_micros + NEW.amount_micros WHERE id = NEW.account_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER payments_balance AFTER INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_balance();
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION resources_immutable();

-- Billing contact and the card on file, kept as the processor's reference
-- with brand and last four digits only.
CREATE TABLE billing_info (
    account_id     bigint PRIMARY KEY REFERENCES accounts (id),
    contact_name   text NOT NULL DEFAULT '',
    contact_email  text NOT NULL DEFAULT '',
    address_line1  text NOT NULL DEFAULT '',
    address_line2  text NOT NULL DEFAULT '',
    city           text NOT NULL DEFAULT '',
    region         text NOT NULL DEFAULT '',
    postal_code    text NOT NULL DEFAULT '',
    country        text NOT NULL DEFAULT '',
    tax_id         text NOT NULL DEFAULT '',
    card_brand     text NOT NULL DEFAULT '',
    card_last4     text NOT NULL DEFAULT '' CHECK (card_last4 ~ '^([0-9]{4})?$'),
    card_exp_month integer NOT NULL DEFAULT 0,
    card_exp_year  integer NOT NULL DEFAULT 0,
    card_ref       text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     bigint REFERENCES users (id)
);

-- API keys: only the SHA-256 of the secret is kept (the secret has 256
-- random bits, so a fast hash is enough); prefix is the public start of the
-- secret that identifies it in lists.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL UNIQUE,
    created_by   bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    rotated_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    revoked_by   bigint REFERENCES users (id)
);
CREATE INDEX api_keys_account_created ON api_keys (account_id, created_at DESC, id DESC);
