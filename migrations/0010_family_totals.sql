-- Family totals for the summaries. A Principal of a root sees the whole
-- family; its totals (open accounts, balances, numbers held, this month's
-- calls) are read from one row per family instead of a pass over every
-- account of the family on each page view.

-- Open accounts of a family (its root included), their balances and the
-- numbers they hold. Kept by statement triggers on accounts (balance
-- changes, closing, moving between families) and on dids (through
-- did_counts_apply).
CREATE TABLE family_totals (
    root_id        bigint PRIMARY KEY,
    accounts       bigint NOT NULL,
    balance_micros bigint NOT NULL,
    numbers        bigint NOT NULL
) WITH (fillfactor = 80);

-- Calls per family and UTC month, of its open accounts. Linking and
-- unlinking move an account's history between families in the same
-- transaction (postgres.moveFamilyTx); closing an account takes its history
-- out (accounts_family_totals). family_charge_monthly now follows the same
-- rule, so the summaries read a family's figures without subtracting its
-- closed accounts.
CREATE TABLE family_cdr_monthly (
    root_id     bigint NOT NULL,
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    calls       bigint NOT NULL,
    billed_secs bigint NOT NULL,
    PRIMARY KEY (root_id, month)
) WITH (fillfactor = 80);

-- accounts_family_totals applies the per-family changes of one statement on
-- accounts. An account counts in the family of its row while it is open;
-- its numbers are read from did_counts, the same value for its old and new
-- row, so an update that neither closes nor moves an account only changes
-- the balance. Families are updated in root order so concurrent statements
-- never wait on each other in a cycle.
CREATE FUNCTION accounts_family_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO family_totals AS f (root_id, accounts, balance_micros, numbers)
        SELECT coalesce(x.parent_id, x.id), count(*), sum(x.balance_micros),
               coalesce(sum((SELECT d.held FROM did_counts d WHERE d.account_id = x.id)), 0)
        FROM new_rows x WHERE x.status <> 'closed' GROUP BY 1 ORDER BY 1
        ON CONFLICT (root_id) DO UPDATE SET accounts = f.accounts + EXCLUDED.accounts,
            balance_micros = f.balance_micros + EXCLUDED.balance_micros, numbers = f.numbers + EXCLUDED.numbers;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE family_totals f SET accounts = f.accounts - o.n, balance_micros = f.balance_micros - o.bal,
            numbers = f.numbers - o.held
        FROM (SELECT coalesce(x.parent_id, x.id) AS root, count(*) AS n, sum(x.balance_micros) AS bal,
                     coalesce(sum((SELECT d.held FROM did_counts d WHERE d.account_id = x.id)), 0) AS held
              FROM old_rows x WHERE x.status <> 'closed' GROUP BY 1) o
        WHERE f.root_id = o.root;
    ELSE
        INSERT INTO family_totals AS f (root_id, accounts, balance_micros, numbers)
        SELECT root, sum(n), sum(bal), sum(held) FROM (
            SELECT coalesce(x.parent_id, x.id) AS root, 1 AS n, x.balance_micros AS bal,
                   coalesce((SELECT d.held FROM did_counts d WHERE d.account_id = x.id), 0) AS held
            FROM new_rows x WHERE x.status <> 'closed'
            UNION ALL
            SELECT coalesce(x.parent_id, x.id), -1, -x.balance_micros,
                   -coalesce((SELECT d.held FROM did_counts d WHERE d.account_id = x.id), 0)
            FROM old_rows x WHERE x.status <> 'closed'
        ) c GROUP BY root HAVING sum(n) <> 0 OR sum(bal) <> 0 OR sum(held) <> 0 ORDER BY root
        ON CONFLICT (root_id) DO UPDATE SET accounts = f.accounts + EXCLUDED.accounts,
            balance_micros = f.balance_micros + EXCLUDED.balance_micros, numbers = f.numbers + EXCLUDED.numbers;
        -- An account closed leaves its family's history; reopened, it
        -- comes back. Only the few accounts closed before or after are
        -- looked at (transition tables have no indexes: joining the whole
        -- of both would compare every pair).
        IF EXISTS (SELECT 1 FROM old_rows WHERE status = 'closed') OR EXISTS (SELECT 1 FROM new_rows WHERE status = 'closed') THEN
            WITH flips AS (
                SELECT id, true AS closing FROM ((SELECT id FROM new_rows WHERE status = 'closed') EXCEPT (SELECT id FROM old_rows WHERE status = 'closed')) c
                UNION ALL
                SELECT id, false FROM ((SELECT id FROM old_rows WHERE status = 'closed') EXCEPT (SELECT id FROM new_rows WHERE status = 'closed')) r)
            INSERT INTO family_charge_monthly AS f (root_id, month, category, amount_micros)
            SELECT coalesce(a.parent_id, a.id), c.month, c.category,
                   sum(CASE WHEN x.closing THEN -c.amount_micros ELSE c.amount_micros END)
            FROM flips x
            JOIN LATERAL (SELECT o.id, o.parent_id FROM old_rows o WHERE o.id = x.id AND x.closing
                          UNION ALL SELECT n.id, n.parent_id FROM new_rows n WHERE n.id = x.id AND NOT x.closing) a ON true
            JOIN charge_monthly c ON c.account_id = x.id
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (root_id, month, category) DO UPDATE SET amount_micros = f.amount_micros + EXCLUDED.amount_micros;
            WITH flips AS (
                SELECT id, true AS closing FROM ((SELECT id FROM new_rows WHERE status = 'closed') EXCEPT (SELECT id FROM old_rows WHERE status = 'closed')) c
                UNION ALL
                SELECT id, false FROM ((SELECT id FROM old_rows WHERE status = 'closed') EXCEPT (SELECT id FROM new_rows WHERE status = 'closed')) r)
            INSERT INTO family_cdr_monthly AS f (root_id, month, calls, billed_secs)
            SELECT coalesce(a.parent_id, a.id), c.month,
                   sum(CASE WHEN x.closing THEN -c.calls ELSE c.calls END),
                   sum(CASE WHEN x.closing THEN -c.billed_secs ELSE c.billed_secs END)
            FROM flips x
            JOIN LATERAL (SELECT o.id, o.parent_id FROM old_rows o WHERE o.id = x.id AND x.closing
                          UNION ALL SELECT n.id, n.parent_id FROM new_rows n WHERE n.id = x.id AND NOT x.closing) a ON true
            JOIN cdr_monthly c ON c.account_id = x.id
            GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (root_id, month) DO UPDATE SET calls = f.calls + EXCLUDED.calls, billed_secs = f.billed_secs + EXCLUDED.billed_secs;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_family_totals_insert AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_family_totals();
CREATE TRIGGER accounts_family_totals_update AFTER UPDATE ON accounts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_family_totals();
CREATE TRIGGER accounts_family_totals_delete AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_family_totals();

-- did_counts_apply now also moves the family's count of numbers. It locks
-- the numbers' accounts first (in id order, as the charge rollup does), so
-- a concurrent close or move of an account is ordered against the change:
-- whichever commits first, the other reads its result.
CREATE OR REPLACE FUNCTION did_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM old_rows) ORDER BY id FOR NO KEY UPDATE;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO did_counts AS c (account_id, held)
        SELECT account_id, count(*) FROM new_rows WHERE released_at IS NULL GROUP BY 1 ORDER BY 1
        ON CONFLICT (account_id) DO UPDATE SET held = c.held + EXCLUDED.held;
        INSERT INTO family_totals AS f (root_id, accounts, balance_micros, numbers)
        SELECT coalesce(a.parent_id, a.id), 0, 0, count(*)
        FROM new_rows n JOIN accounts a ON a.id = n.account_id
        WHERE n.released_at IS NULL AND a.status <> 'closed' GROUP BY 1 ORDER BY 1
        ON CONFLICT (root_id) DO UPDATE SET numbers = f.numbers + EXCLUDED.numbers;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE did_counts c SET held = c.held - o.n
        FROM (SELECT account_id, count(*) AS n FROM old_rows WHERE released_at IS NULL GROUP BY 1) o
        WHERE c.account_id = o.account_id;
        UPDATE family_totals f SET numbers = f.numbers - o.n
        FROM (SELECT coalesce(a.parent_id, a.id) AS root, count(*) AS n
              FROM old_rows x JOIN accounts a ON a.id = x.account_id
              WHERE x.released_at IS NULL AND a.status <> 'closed' GROUP BY 1) o
        WHERE f.root_id = o.root;
    END IF;
    RETURN NULL;
END;
$$;

-- The monthly call rollups now also keep the family's row, in the family
-- the account belongs to when the calls are recorded, unless it is closed
-- (accounts locked in id order first, as for charges, so a concurrent link,
-- unlink or close is ordered against them).
CREATE OR REPLACE FUNCTION cdrs_monthly_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cdr_monthly AS m (account_id, month, calls, duration_secs, billed_secs, charge_micros)
    SELECT account_id, date_trunc('month', started_at AT TIME ZONE 'UTC')::date,
           count(*), sum(duration_secs), sum(billed_secs), sum(charge_micros)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, month) DO UPDATE SET
        calls = m.calls + EXCLUDED.calls, duration_secs = m.duration_secs + EXCLUDED.duration_secs,
        billed_secs = m.billed_secs + EXCLUDED.billed_secs, charge_micros = m.charge_micros + EXCLUDED.charge_micros;
    PERFORM 1 FROM accounts WHERE id IN (SELECT DISTINCT account_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO family_cdr_monthly AS f (root_id, month, calls, billed_secs)
    SELECT coalesce(a.parent_id, a.id), date_trunc('month', n.started_at AT TIME ZONE 'UTC')::date, count(*), sum(n.billed_secs)
    FROM new_rows n JOIN accounts a ON a.id = n.account_id AND a.status <> 'closed'
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (root_id, month) DO UPDATE SET calls = f.calls + EXCLUDED.calls, billed_secs = f.billed_secs + EXCLUDED.billed_secs;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION cdrs_monthly_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cdr_monthly m SET calls = m.calls - o.calls, duration_secs = m.duration_secs - o.duration_secs,
        billed_secs = m.billed_secs - o.billed_secs, charge_micros = m.charge_micros - o.charge_micros
    FROM (SELECT account_id, date_trunc('month', started_at AT TIME ZONE 'UTC')::date AS month,
                 count(*) AS calls, sum(duration_secs) AS duration_secs, sum(billed_secs) AS billed_secs,
                 sum(charge_micros) AS charge_micros
          FROM old_rows GROUP BY 1, 2) o
    WHERE m.account_id = o.account_id AND m.month = o.month;
    PERFORM 1 FROM accounts WHERE id IN (SELECT DISTINCT account_id FROM old_rows) ORDER BY id FOR NO KEY UPDATE;
    UPDATE family_cdr_monthly f SET calls = f.calls - o.calls, billed_secs = f.billed_secs - o.billed_secs
    FROM (SELECT coalesce(a.parent_id, a.id) AS root, date_trunc('month', x.started_at AT TIME ZONE 'UTC')::date AS month,
                 count(*) AS calls, sum(x.billed_secs) AS billed_secs
          FROM old_rows x JOIN accounts a ON a.id = x.account_id AND a.status <> 'closed' GROUP BY 1, 2) o
    WHERE f.root_id = o.root AND f.month = o.month;
    RETURN NULL;
END;
$$;

-- Charges of closed accounts stay out of the family rollup, like calls.
CREATE OR REPLACE FUNCTION charges_family_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE id IN (SELECT DISTINCT account_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO family_charge_monthly AS f (root_id, month, category, amount_micros)
    SELECT coalesce(a.parent_id, a.id), date_trunc('month', n.occurred_at AT TIME ZONE 'UTC')::date, n.category, sum(n.amount_micros)
    FROM new_rows n JOIN accounts a ON a.id = n.account_id AND a.status <> 'closed'
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (root_id, month, category) DO UPDATE SET amount_micros = f.amount_micros + EXCLUDED.amount_micros;
    RETURN NULL;
END;
$$;

UPDATE family_charge_monthly f SET amount_micros = f.amount_micros - c.amt
FROM (SELECT coalesce(a.parent_id, a.id) AS root, c.month, c.category, sum(c.amount_micros) AS amt
      FROM charge_monthly c JOIN accounts a ON a.id = c.account_id WHERE a.status = 'closed' GROUP BY 1, 2, 3) c
WHERE f.root_id = c.root AND f.month = c.month AND f.category = c.category;

-- Payments inserted together raise their accounts' balances in one
-- statement: a bulk insert of tens of thousands of payments used to update
-- an account, and with it its family's totals, once per payment. A settled
-- payment still never changes, and a pending one raises the balance when
-- it succeeds.
CREATE OR REPLACE FUNCTION payments_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE accounts a SET balance_micros = a.balance_micros + p.amount
        FROM (SELECT account_id, sum(amount_micros) AS amount FROM new_rows WHERE status = 'succeeded' GROUP BY 1) p
        WHERE a.id = p.account_id;
        RETURN NULL;
    END IF;
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'a settled payment cannot be changed' USING ERRCODE = '42501';
    END IF;
    IF NEW.status = 'succeeded' THEN
        UPDATE accounts SET balance_micros = balance_micros + NEW.amount_micros WHERE id = NEW.account_id;
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER payments_balance ON payments;
CREATE TRIGGER payments_balance AFTER UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_balance();
CREATE TRIGGER payments_balance_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_balance();

INSERT INTO family_totals (root_id, accounts, balance_micros, numbers)
SELECT coalesce(a.parent_id, a.id), count(*), sum(a.balance_micros), coalesce(sum(d.held), 0)
FROM accounts a LEFT JOIN did_counts d ON d.account_id = a.id
WHERE a.status <> 'closed' GROUP BY 1;

INSERT INTO family_cdr_monthly (root_id, month, calls, billed_secs)
SELECT coalesce(a.parent_id, a.id), m.month, sum(m.calls), sum(m.billed_secs)
FROM cdr_monthly m JOIN accounts a ON a.id = m.account_id WHERE a.status <> 'closed' GROUP BY 1, 2;
