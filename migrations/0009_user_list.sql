-- User Management lists a family's users a page at a time. Found through
-- memberships, every view was a pass over each membership of the family
-- joined to its account (a family may have ten thousand accounts), to learn
-- which users hold a role there and which roles. The tables below, kept by
-- triggers in the transaction that changes memberships or accounts, hold
-- that answer per family.

-- Every membership with what the list needs of its account: the family it
-- belongs to now, whether it is open, and how it is named. family_roles_user
-- gives a user's roles in a family highest first, then by account id (the
-- roles a row keeps when it names only some), without a visit to accounts.
CREATE TABLE family_roles (
    user_id       bigint NOT NULL,
    account_id    bigint NOT NULL,
    root_id       bigint NOT NULL,
    -- 3 Principal, 2 Power, 1 General: the list orders and filters by it.
    rank          smallint NOT NULL CHECK (rank BETWEEN 1 AND 3),
    open          boolean NOT NULL,
    tech_prefix   text NOT NULL,
    company_name  text NOT NULL,
    company_alias text NOT NULL,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX family_roles_user ON family_roles (root_id, user_id, rank DESC, account_id)
    INCLUDE (tech_prefix, company_name) WHERE open;
CREATE INDEX family_roles_account ON family_roles (account_id);

-- Each user's roles per family, counted by type on open accounts, and the
-- memberships on closed accounts of the family (a user who has any is
-- managed from the root only). A row exists while any count is not zero.
-- The top_ arrays are the roles the list names: the user's first ten on
-- open accounts, highest first and then by account id, in the scope's order
-- (root first, then by company).
CREATE TABLE family_users (
    root_id        bigint NOT NULL,
    user_id        bigint NOT NULL,
    principals     integer NOT NULL CHECK (principals >= 0),
    powers         integer NOT NULL CHECK (powers >= 0),
    generals       integer NOT NULL CHECK (generals >= 0),
    closed         integer NOT NULL CHECK (closed >= 0),
    top_accounts   bigint[] NOT NULL DEFAULT '{}',
    top_ranks      smallint[] NOT NULL DEFAULT '{}',
    top_prefixes   text[] NOT NULL DEFAULT '{}',
    top_companies  text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (root_id, user_id)
);

-- family_users_top rewrites one user's first roles in a family from
-- family_roles_user.
CREATE FUNCTION family_users_top(p_root bigint, p_user bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE family_users f SET top_accounts = coalesce(t.ids, '{}'), top_ranks = coalesce(t.ranks, '{}'),
        top_prefixes = coalesce(t.prefixes, '{}'), top_companies = coalesce(t.companies, '{}')
    FROM (SELECT array_agg(account_id ORDER BY account_id <> root_id, lower(company_name), account_id) AS ids,
                 array_agg(rank ORDER BY account_id <> root_id, lower(company_name), account_id) AS ranks,
                 array_agg(tech_prefix ORDER BY account_id <> root_id, lower(company_name), account_id) AS prefixes,
                 array_agg(company_name ORDER BY account_id <> root_id, lower(company_name), account_id) AS companies
          FROM (SELECT * FROM family_roles WHERE root_id = p_root AND user_id = p_user AND open
                ORDER BY rank DESC, account_id LIMIT 10) x) t
    WHERE f.root_id = p_root AND f.user_id = p_user;
$$;

-- family_users_apply moves the counts by one statement's changes to
-- family_roles (what its old rows held is taken away first, so no count
-- ever goes below zero, then its new rows are added) and rewrites the first
-- roles of the users it touched. Families and users are taken in key order
-- so concurrent statements never wait on each other in a cycle.
CREATE FUNCTION family_users_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE family_users f SET principals = f.principals - o.principals, powers = f.powers - o.powers,
            generals = f.generals - o.generals, closed = f.closed - o.closed
        FROM (SELECT root_id, user_id, count(*) FILTER (WHERE open AND rank = 3) AS principals,
                     count(*) FILTER (WHERE open AND rank = 2) AS powers, count(*) FILTER (WHERE open AND rank = 1) AS generals,
                     count(*) FILTER (WHERE NOT open) AS closed
              FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2) o
        WHERE f.root_id = o.root_id AND f.user_id = o.user_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO family_users AS f (root_id, user_id, principals, powers, generals, closed)
        SELECT root_id, user_id, count(*) FILTER (WHERE open AND rank = 3), count(*) FILTER (WHERE open AND rank = 2),
               count(*) FILTER (WHERE open AND rank = 1), count(*) FILTER (WHERE NOT open)
        FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (root_id, user_id) DO UPDATE SET principals = f.principals + EXCLUDED.principals,
            powers = f.powers + EXCLUDED.powers, generals = f.generals + EXCLUDED.generals, closed = f.closed + EXCLUDED.closed;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM family_users_top(root_id, user_id) FROM (SELECT DISTINCT root_id, user_id FROM new_rows ORDER BY 1, 2) c;
        RETURN NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM family_users_top(root_id, user_id)
        FROM (SELECT root_id, user_id FROM new_rows UNION SELECT root_id, user_id FROM old_rows ORDER BY 1, 2) c;
    ELSE
        PERFORM family_users_top(root_id, user_id) FROM (SELECT DISTINCT root_id, user_id FROM old_rows ORDER BY 1, 2) c;
    END IF;
    DELETE FROM family_users f USING (SELECT DISTINCT root_id, user_id FROM old_rows) o
    WHERE f.root_id = o.root_id AND f.user_id = o.user_id
      AND f.principals = 0 AND f.powers = 0 AND f.generals = 0 AND f.closed = 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER family_users_insert AFTER INSERT ON family_roles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION family_users_apply();
CREATE TRIGGER family_users_update AFTER UPDATE ON family_roles
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION family_users_apply();
CREATE TRIGGER family_users_delete AFTER DELETE ON family_roles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION family_users_apply();

-- family_roles_apply mirrors one statement's changes to memberships. A
-- membership is only ever created, re-typed or removed, but a change of
-- its keys is taken as a removal and a creation all the same.
CREATE FUNCTION family_roles_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM family_roles x USING old_rows o WHERE x.user_id = o.user_id AND x.account_id = o.account_id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM family_roles x USING old_rows o
        WHERE x.user_id = o.user_id AND x.account_id = o.account_id
          AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.user_id = o.user_id AND n.account_id = o.account_id);
        UPDATE family_roles x SET rank = CASE n.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END
        FROM new_rows n WHERE x.user_id = n.user_id AND x.account_id = n.account_id
          AND x.rank <> CASE n.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END;
    END IF;
    INSERT INTO family_roles (user_id, account_id, root_id, rank, open, tech_prefix, company_name, company_alias)
    SELECT n.user_id, n.account_id, coalesce(a.parent_id, a.id), CASE n.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END,
           a.status <> 'closed', a.tech_prefix, a.company_name, a.company_alias
    FROM new_rows n JOIN accounts a ON a.id = n.account_id
    ORDER BY n.user_id, n.account_id
    ON CONFLICT (user_id, account_id) DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER family_roles_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION family_roles_apply();
CREATE TRIGGER family_roles_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION family_roles_apply();
CREATE TRIGGER family_roles_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION family_roles_apply();

-- accounts_user_list carries a change of an account's family, status or
-- names to its roles. It fires per row, and only when one of those columns
-- changes: balances are updated all day and must not pay for it.
CREATE FUNCTION accounts_user_list() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE family_roles SET root_id = coalesce(NEW.parent_id, NEW.id), open = NEW.status <> 'closed',
        tech_prefix = NEW.tech_prefix, company_name = NEW.company_name, company_alias = NEW.company_alias
    WHERE account_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_user_list AFTER UPDATE OF parent_id, status, tech_prefix, company_name, company_alias ON accounts
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id OR (OLD.status = 'closed') <> (NEW.status = 'closed')
        OR OLD.tech_prefix IS DISTINCT FROM NEW.tech_prefix OR OLD.company_name IS DISTINCT FROM NEW.company_name
        OR OLD.company_alias IS DISTINCT FROM NEW.company_alias)
    EXECUTE FUNCTION accounts_user_list();

-- The triggers above hold memberships and accounts against writes until
-- this migration commits, so the copy below misses nothing (family_users
-- is filled by the trigger on family_roles).
INSERT INTO family_roles (user_id, account_id, root_id, rank, open, tech_prefix, company_name, company_alias)
SELECT m.user_id, m.account_id, coalesce(a.parent_id, a.id), CASE m.role WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END,
       a.status <> 'closed', a.tech_prefix, a.company_name, a.company_alias
FROM memberships m JOIN accounts a ON a.id = m.account_id
ORDER BY coalesce(a.parent_id, a.id), m.user_id, m.account_id;

ANALYZE family_roles, family_users;
