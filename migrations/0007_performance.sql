-- Performance: counters and covering indexes that keep the pages of a
-- family of ten thousand accounts from reading every account's rows, and
-- room on the pages of rows that are updated in place.

-- Rollups and balances are updated in place many times a day. With free
-- space left on each page, PostgreSQL rewrites such a row on the same page
-- without touching its indexes (a HOT update), so the indexes the pages
-- read stay as small as the tables' live rows.
ALTER TABLE accounts SET (fillfactor = 80);
ALTER TABLE cdr_daily SET (fillfactor = 80);
ALTER TABLE cdr_monthly SET (fillfactor = 80);
ALTER TABLE charge_daily SET (fillfactor = 80);
ALTER TABLE charge_monthly SET (fillfactor = 80);
ALTER TABLE family_charge_monthly SET (fillfactor = 80);

-- Numbers an account holds now, kept by the statements that add, release
-- or move numbers: the dashboard and the summaries read one row per account
-- instead of counting thousands of numbers.
CREATE TABLE did_counts (
    account_id bigint PRIMARY KEY,
    held       bigint NOT NULL CHECK (held >= 0)
);

CREATE FUNCTION did_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO did_counts AS c (account_id, held)
        SELECT account_id, count(*) FROM new_rows WHERE released_at IS NULL GROUP BY 1 ORDER BY 1
        ON CONFLICT (account_id) DO UPDATE SET held = c.held + EXCLUDED.held;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE did_counts c SET held = c.held - o.n
        FROM (SELECT account_id, count(*) AS n FROM old_rows WHERE released_at IS NULL GROUP BY 1) o
        WHERE c.account_id = o.account_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER did_counts_insert AFTER INSERT ON dids
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION did_counts_apply();
CREATE TRIGGER did_counts_update AFTER UPDATE ON dids
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION did_counts_apply();
CREATE TRIGGER did_counts_delete AFTER DELETE ON dids
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION did_counts_apply();

INSERT INTO did_counts (account_id, held)
SELECT account_id, count(*) FROM dids WHERE released_at IS NULL GROUP BY 1;

-- A month's figures for many accounts straight from the index, without a
-- visit to each account's rollup row (the family summaries' totals, and a
-- month's billing of a whole family).
CREATE INDEX cdr_monthly_month_cover ON cdr_monthly (month, account_id)
    INCLUDE (calls, duration_secs, billed_secs, charge_micros);
CREATE INDEX charge_monthly_month_cover ON charge_monthly (month, account_id)
    INCLUDE (category, amount_micros);
