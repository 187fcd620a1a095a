-- Each account's charges per month, all categories together, kept as
-- charges are recorded (charges never change; a correction is a new line).
-- The All Accounts summary sorts by this figure: a large family's first
-- pages by charges are read from the rank index instead of adding up and
-- sorting the month's charges of every account.
CREATE TABLE account_month_charges (
    account_id    bigint NOT NULL,
    month         date NOT NULL CHECK (extract(day FROM month) = 1),
    amount_micros bigint NOT NULL,
    PRIMARY KEY (account_id, month)
);
CREATE INDEX account_month_charges_rank ON account_month_charges (month, amount_micros DESC, account_id);

INSERT INTO account_month_charges (account_id, month, amount_micros)
SELECT account_id, month, sum(amount_micros) FROM charge_monthly GROUP BY 1, 2;

CREATE FUNCTION charges_account_month() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_month_charges AS m (account_id, month, amount_micros)
    SELECT account_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date, sum(amount_micros)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (account_id, month) DO UPDATE SET amount_micros = m.amount_micros + EXCLUDED.amount_micros;
    RETURN NULL;
END;
$$;
CREATE TRIGGER charges_account_month AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION charges_account_month();
