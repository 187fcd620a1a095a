-- Each instance keeps the sessions it has seen and their users in memory.
-- Every change to a stored session or a user is announced on the
-- portal_cache channel when its transaction commits, so that every instance
-- drops its copy (internal/postgres/cachesync.go). A session is named by the
-- SHA-256 of its token, never by the token itself.

CREATE FUNCTION cache_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portal_cache', 's' || encode(sha256(convert_to(OLD.token, 'UTF8')), 'hex'));
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_cache AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION cache_session_changed();

CREATE FUNCTION cache_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portal_cache', 'u' || OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER users_cache AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION cache_user_changed();
