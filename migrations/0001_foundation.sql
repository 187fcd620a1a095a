-- Accounts, users, memberships, revocations, features, staff, tokens,
-- sessions, audit log, rate limits and the development mailbox.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE accounts (
    id             bigserial PRIMARY KEY,
    tech_prefix    text NOT NULL UNIQUE CHECK (tech_prefix ~ '^[0-9]{8}$'),
    company_name   text NOT NULL,
    company_alias  text NOT NULL DEFAULT '',
    contact_name   text NOT NULL DEFAULT '',
    contact_email  text NOT NULL,
    address_line1  text NOT NULL DEFAULT '',
    address_line2  text NOT NULL DEFAULT '',
    city           text NOT NULL DEFAULT '',
    region         text NOT NULL DEFAULT '',
    postal_code    text NOT NULL DEFAULT '',
    country        text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'pending_activation'
                   CHECK (status IN ('pending_activation', 'active', 'suspended', 'closed')),
    parent_id      bigint REFERENCES accounts (id),
    balance_micros bigint NOT NULL DEFAULT 0,
    linked_at      timestamptz,
    activated_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX accounts_parent_idx ON accounts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_company_trgm ON accounts USING gin (lower(company_name) gin_trgm_ops);
CREATE INDEX accounts_alias_trgm ON accounts USING gin (lower(company_alias) gin_trgm_ops);
CREATE INDEX accounts_contact_email_idx ON accounts (lower(contact_email));

-- The hierarchy is one level deep: a parent has no parent, and an account
-- with sub-accounts cannot become one. The parent row is locked so that two
-- concurrent links cannot both pass the check.
CREATE FUNCTION accounts_check_hierarchy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    grandparent bigint;
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.parent_id = NEW.id THEN
        RAISE EXCEPTION 'an account cannot be its own parent' USING ERRCODE = '23514';
    END IF;
    SELECT parent_id INTO grandparent FROM accounts WHERE id = NEW.parent_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent account does not exist' USING ERRCODE = '23503';
    END IF;
    IF grandparent IS NOT NULL THEN
        RAISE EXCEPTION 'a sub-account cannot have sub-accounts' USING ERRCODE = '23514';
    END IF;
    IF EXISTS (SELECT 1 FROM accounts WHERE parent_id = NEW.id) THEN
        RAISE EXCEPTION 'an account with sub-accounts cannot become a sub-account' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER accounts_hierarchy
    BEFORE INSERT OR UPDATE OF parent_id ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_check_hierarchy();

CREATE TABLE users (
    id                bigserial PRIMARY KEY,
    email             text NOT NULL,
    full_name         text NOT NULL,
    password_hash     text NOT NULL DEFAULT '',
    email_verified_at timestamptz,
    session_epoch     bigint NOT NULL DEFAULT 1,
    last_account_id   bigint REFERENCES accounts (id) ON DELETE SET NULL,
    last_login_at     timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    user_id    bigint NOT NULL REFERENCES users (id),
    account_id bigint NOT NULL REFERENCES accounts (id),
    role       text NOT NULL CHECK (role IN ('principal', 'power', 'general')),
    granted_by bigint REFERENCES users (id),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX memberships_account_idx ON memberships (account_id, user_id);

-- A revocation is per user and family (keyed by the family root). While it
-- exists every membership of the user in the family is ignored, but kept.
CREATE TABLE revocations (
    user_id    bigint NOT NULL REFERENCES users (id),
    root_id    bigint NOT NULL REFERENCES accounts (id),
    revoked_at timestamptz NOT NULL DEFAULT now(),
    revoked_by bigint REFERENCES users (id),
    PRIMARY KEY (user_id, root_id)
);

CREATE TABLE staff_users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    full_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_users_email_key ON staff_users (lower(email));

-- Features enabled for a family, keyed by the family root.
CREATE TABLE account_features (
    account_id bigint NOT NULL REFERENCES accounts (id),
    feature    text NOT NULL CHECK (feature IN ('sub_accounts', 'multi_user')),
    enabled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, feature)
);

CREATE TABLE feature_requests (
    id           bigserial PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id),
    feature      text NOT NULL CHECK (feature IN ('sub_accounts', 'multi_user')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    requested_by bigint NOT NULL REFERENCES users (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    reviewed_by  bigint REFERENCES staff_users (id),
    reviewed_at  timestamptz,
    staff_note   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX feature_requests_one_pending ON feature_requests (account_id, feature) WHERE status = 'pending';
CREATE INDEX feature_requests_queue ON feature_requests (status, requested_at);

-- Verification tokens: only the SHA-256 of the token is stored.
CREATE TABLE verification_tokens (
    id         bigserial PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    purpose    text NOT NULL,
    subject    text NOT NULL,
    email      text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_tokens_subject ON verification_tokens (purpose, subject) WHERE used_at IS NULL;

-- scs session store (pgxstore).
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- Append-only audit log.
CREATE TABLE audit_events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_user_id bigint,
    actor_staff_id bigint,
    account_id    bigint,
    action        text NOT NULL,
    target        text NOT NULL DEFAULT '',
    outcome       text NOT NULL DEFAULT 'success',
    ip            text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT '',
    details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, id DESC);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = '42501';
END;
$$;
CREATE TRIGGER audit_events_no_change
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Fixed-window rate-limit counters, shared by every instance.
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- Development mailbox: every message the development mailer "sends".
CREATE TABLE dev_mail (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    to_addr    text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL
);
