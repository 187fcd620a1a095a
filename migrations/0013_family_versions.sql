-- Each instance keeps rendered pages of a family (User Management, the
-- dashboard, the CDR report, the summaries) in memory, each stamped with the
-- version of the families it shows. A family's version goes up in every
-- transaction that changes anything of the family, by the triggers below,
-- and a page reads the versions in the round trip it makes anyway (with its
-- access or scope): a kept copy is used only while the stamp still matches,
-- so every instance shows a change from the moment it commits.

CREATE TABLE family_versions (
    root_id bigint PRIMARY KEY,
    version bigint NOT NULL
);

-- A user's families, for the users trigger and a user's stamp.
CREATE INDEX family_users_user ON family_users (user_id, root_id);

-- A transaction that changes a family notes its root in the transaction's
-- portal.family_changes setting; the first note also adds a row to
-- family_version_marks, whose deferred trigger raises the versions of every
-- family noted when the transaction commits, in root order. The versions'
-- row locks are so the last locks a transaction takes, in the same order in
-- every transaction: raising them as changes happen deadlocked with the
-- rollups' locks of concurrent links and calls.
CREATE UNLOGGED TABLE family_version_marks (
    id bigserial PRIMARY KEY
);

CREATE FUNCTION family_versions_note(roots bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('portal.family_changes', true), '');
BEGIN
    IF roots IS NULL OR cardinality(roots) = 0 THEN
        RETURN;
    END IF;
    IF noted = '' THEN
        INSERT INTO family_version_marks DEFAULT VALUES;
    END IF;
    PERFORM set_config('portal.family_changes',
        (SELECT string_agg(DISTINCT r::text, ',') FROM unnest(roots || string_to_array(nullif(noted, ''), ',')::bigint[]) r
         WHERE r IS NOT NULL), true);
END $$;

CREATE FUNCTION family_versions_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO family_versions AS f (root_id, version)
    SELECT r, 1 FROM unnest(string_to_array(nullif(current_setting('portal.family_changes', true), ''), ',')::bigint[]) r
    ORDER BY r
    ON CONFLICT (root_id) DO UPDATE SET version = f.version + 1;
    -- Announced too ("f" and the root), for the copies of the accounts'
    -- access each instance keeps (internal/server/accesscache.go).
    PERFORM pg_notify('portal_cache', 'f' || r)
    FROM unnest(string_to_array(nullif(current_setting('portal.family_changes', true), ''), ',')::bigint[]) r;
    PERFORM set_config('portal.family_changes', '', true);
    DELETE FROM family_version_marks WHERE id = NEW.id;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER family_version_marks_commit AFTER INSERT ON family_version_marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION family_versions_commit();

-- family_changed is the statement trigger of every table holding a
-- family's data. TG_ARGV[0] is the expression naming each row's family
-- over the row's columns; TG_ARGV[1] says what it names: 'root' the family's
-- root, 'account' an account (its family is looked up).
CREATE FUNCTION family_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src  text;
    keys bigint[];
BEGIN
    src := CASE TG_OP WHEN 'INSERT' THEN 'SELECT %1$s AS k FROM new_rows'
                      WHEN 'DELETE' THEN 'SELECT %1$s AS k FROM old_rows'
                      ELSE 'SELECT %1$s AS k FROM new_rows UNION SELECT %1$s FROM old_rows' END;
    EXECUTE format('SELECT array_agg(DISTINCT k) FROM (' || src || ') x', TG_ARGV[0]) INTO keys;
    IF keys IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_ARGV[1] = 'account' THEN
        SELECT array_agg(DISTINCT coalesce(a.parent_id, a.id)) INTO keys FROM accounts a WHERE a.id = ANY (keys);
    END IF;
    PERFORM family_versions_note(keys);
    RETURN NULL;
END $$;

-- The tables left out hold nothing a page of a family shows from a kept
-- copy: sessions, tokens, mail, rate limits, staff, the audit log, each
-- user's recent accounts, the job queue, the marks above; and the rollups, which change only
-- with the tables they sum, in the same statement.
DO $$
DECLARE
    t record;
    op text;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('accounts', 'coalesce(parent_id, id)', 'root'),
        ('memberships', 'account_id', 'account'),
        ('revocations', 'root_id', 'root'),
        ('account_features', 'account_id', 'account'),
        ('feature_requests', 'account_id', 'account'),
        ('invitations', 'account_id', 'account'),
        ('invitation_roles', 'account_id', 'account'),
        ('dids', 'account_id', 'account'),
        ('cdrs', 'account_id', 'account'),
        ('charges', 'account_id', 'account'),
        ('payments', 'account_id', 'account'),
        ('billing_info', 'account_id', 'account'),
        ('api_keys', 'account_id', 'account'),
        ('inbound_routes', 'account_id', 'account'),
        ('sip_hosts', 'account_id', 'account'),
        ('sip_credentials', 'account_id', 'account')) v(tbl, expr, kind)
    LOOP
        FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %I REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION family_changed(%L, %L)',
                t.tbl || '_family_version_' || op, upper(op), t.tbl,
                CASE op WHEN 'insert' THEN 'NEW TABLE AS new_rows' WHEN 'delete' THEN 'OLD TABLE AS old_rows'
                        ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END,
                t.expr, t.kind);
        END LOOP;
    END LOOP;
END $$;

-- A user's name, address and last sign-in show in User Management of every
-- family they hold a role in; the rest of the row (the account they last
-- opened, their password, their sessions' epoch) shows on no page.
CREATE FUNCTION family_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM family_versions_note(ARRAY(SELECT f.root_id FROM family_users f WHERE f.user_id = NEW.id));
    RETURN NULL;
END $$;

CREATE TRIGGER users_family_version AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.full_name IS DISTINCT FROM NEW.full_name
          OR OLD.email_verified_at IS DISTINCT FROM NEW.email_verified_at OR OLD.last_login_at IS DISTINCT FROM NEW.last_login_at)
    EXECUTE FUNCTION family_user_changed();

INSERT INTO family_versions (root_id, version) SELECT id, 1 FROM accounts WHERE parent_id IS NULL;

-- The picker (its search, GET /picker, and the header's recent accounts)
-- answers from a copy without a round trip: what it lists changes only with
-- the accounts' names, prefixes, status and families, with the user's roles
-- and revocations, and with the user's recent accounts, each of which is
-- announced on the portal_cache channel like the changes to sessions and
-- users (migration 0011): "a" and the account's family root, "m" and the
-- user's id, "r" and the user's id. Access is still decided on the page an
-- entry leads to.
CREATE FUNCTION cache_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('portal_cache', 'a' || coalesce(OLD.parent_id, OLD.id));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('portal_cache', 'a' || coalesce(NEW.parent_id, NEW.id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER accounts_cache AFTER INSERT OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION cache_account_changed();
CREATE TRIGGER accounts_cache_update AFTER UPDATE ON accounts FOR EACH ROW
    WHEN (OLD.tech_prefix IS DISTINCT FROM NEW.tech_prefix OR OLD.company_name IS DISTINCT FROM NEW.company_name
          OR OLD.company_alias IS DISTINCT FROM NEW.company_alias OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
    EXECUTE FUNCTION cache_account_changed();

CREATE FUNCTION cache_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('portal_cache', 'm' || OLD.user_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('portal_cache', 'm' || NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER memberships_cache AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION cache_member_changed();
CREATE TRIGGER revocations_cache AFTER INSERT OR UPDATE OR DELETE ON revocations
    FOR EACH ROW EXECUTE FUNCTION cache_member_changed();

CREATE FUNCTION cache_recent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portal_cache', 'r' || CASE TG_OP WHEN 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    RETURN NULL;
END $$;

CREATE TRIGGER recent_accounts_cache AFTER INSERT OR UPDATE OR DELETE ON recent_accounts
    FOR EACH ROW EXECUTE FUNCTION cache_recent_changed();
