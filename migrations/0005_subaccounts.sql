-- Sub-accounts: the accounts a user used recently (for the picker), indexes
-- for family listings and search, and the rollups that let the family
-- summaries cost the same for 5 accounts as for 10,000.

CREATE TABLE recent_accounts (
    user_id    bigint NOT NULL REFERENCES users (id),
    account_id bigint NOT NULL REFERENCES accounts (id),
    used_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX recent_accounts_user_used ON recent_accounts (user_id, used_at DESC);

-- A family's accounts in name order (Advanced Settings, summaries, picker)
-- straight from the index; and tech prefix searches by leading digits.
CREATE INDEX accounts_parent_company ON accounts (parent_id, lower(company_name), id);
CREATE INDEX accounts_prefix_pattern ON accounts (tech_prefix text_pattern_ops);

-- Calls per account and UTC month: the summaries' "minutes this month"
-- for thousands of accounts read one row each instead of a month of days.
CREATE TABLE cdr_monthly (
    account_id    bigint NOT NULL,
    month         date NOT NULL CHECK (extract(day FROM month) = 1),
    calls         bigint NOT NULL,
    duration_secs bigint NOT NULL,
    billed_secs   bigint NOT NULL,
    charge_micros bigint NOT NULL,
    PRIMARY KEY (account_id, month)
);

CREATE FUNCTION cdrs_monthly_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cdr_monthly AS m (account_id, month, calls, duration_secs, billed_secs, charge_micros)
    SELECT account_id, date_trunc('month', started_at AT TIME ZONE 'UTC')::date,
           count(*), sum(duration_secs), sum(billed_secs), sum(charge_micros)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, month) DO UPDATE SET
        calls = m.calls + EXCLUDED.calls, duration_secs = m.duration_secs + EXCLUDED.duration_secs,
        billed_secs = m.billed_secs + EXCLUDED.billed_secs, charge_micros = m.charge_micros + EXCLUDED.charge_micros;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_monthly_insert AFTER INSERT ON cdrs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cdrs_monthly_insert();

CREATE FUNCTION cdrs_monthly_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cdr_monthly m SET calls = m.calls - o.calls, duration_secs = m.duration_secs - o.duration_secs,
        billed_secs = m.billed_secs - o.billed_secs, charge_micros = m.charge_micros - o.charge_micros
    FROM (SELECT account_id, date_trunc('month', started_at AT TIME ZONE 'UTC')::date AS month,
                 count(*) AS calls, sum(duration_secs) AS duration_secs, sum(billed_secs) AS billed_secs,
                 sum(charge_micros) AS charge_micros
          FROM old_rows GROUP BY 1, 2) o
    WHERE m.account_id = o.account_id AND m.month = o.month;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_monthly_delete AFTER DELETE ON cdrs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cdrs_monthly_delete();

INSERT INTO cdr_monthly (account_id, month, calls, duration_secs, billed_secs, charge_micros)
SELECT account_id, date_trunc('month', day)::date, sum(calls), sum(duration_secs), sum(billed_secs), sum(charge_micros)
FROM cdr_daily GROUP BY 1, 2;

-- Charges per family (keyed by its root), UTC month and category: the
-- family chart of the Billing Summary reads 12 rows, not 12 months of every
-- account. The family is the current one: linking or unlinking an account
-- moves its history between families in the same transaction
-- (postgres.moveFamilyChargesTx).
CREATE TABLE family_charge_monthly (
    root_id       bigint NOT NULL,
    month         date NOT NULL CHECK (extract(day FROM month) = 1),
    category      text NOT NULL,
    amount_micros bigint NOT NULL,
    PRIMARY KEY (root_id, month, category)
);

-- Locking the charged accounts first (in id order, the same lock the
-- balance update takes) orders each charge against a concurrent link or
-- unlink of its account: whichever commits first, the other sees it, so the
-- family a charge is added to is the family its history is moved with. This
-- trigger's name sorts before charges_rollup, so it runs first.
CREATE FUNCTION charges_family_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE id IN (SELECT DISTINCT account_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO family_charge_monthly AS f (root_id, month, category, amount_micros)
    SELECT coalesce(a.parent_id, a.id), date_trunc('month', n.occurred_at AT TIME ZONE 'UTC')::date, n.category, sum(n.amount_micros)
    FROM new_rows n JOIN accounts a ON a.id = n.account_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (root_id, month, category) DO UPDATE SET amount_micros = f.amount_micros + EXCLUDED.amount_micros;
    RETURN NULL;
END;
$$;
CREATE TRIGGER charges_family_rollup AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION charges_family_rollup();

INSERT INTO family_charge_monthly (root_id, month, category, amount_micros)
SELECT coalesce(a.parent_id, a.id), c.month, c.category, sum(c.amount_micros)
FROM charge_monthly c JOIN accounts a ON a.id = c.account_id
GROUP BY 1, 2, 3;
