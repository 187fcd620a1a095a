-- Multi-User: invitations and the roles they grant, per account. A
-- membership exists only once its invitation is accepted; until then the
-- invitee has no access at all.

CREATE TABLE invitations (
    id               bigserial PRIMARY KEY,
    -- The account the invitation was sent from: a sub-account's Principal
    -- manages only that account's users, so invitations are kept per
    -- managing account.
    account_id       bigint NOT NULL REFERENCES accounts (id),
    email            text NOT NULL,
    full_name        text NOT NULL,
    invited_by       bigint NOT NULL REFERENCES users (id),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'cancelled')),
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz NOT NULL DEFAULT now(),
    accepted_at      timestamptz,
    accepted_user_id bigint REFERENCES users (id),
    cancelled_at     timestamptz,
    cancelled_by     bigint REFERENCES users (id)
);
-- One open invitation per address and managing account: a second invite
-- must resend or cancel the first.
CREATE UNIQUE INDEX invitations_one_pending ON invitations (account_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_account_idx ON invitations (account_id, status, id);

-- The role an invitation grants on each account, made a membership on
-- acceptance.
CREATE TABLE invitation_roles (
    invitation_id bigint NOT NULL REFERENCES invitations (id),
    account_id    bigint NOT NULL REFERENCES accounts (id),
    role          text NOT NULL CHECK (role IN ('principal', 'power', 'general')),
    PRIMARY KEY (invitation_id, account_id)
);
CREATE INDEX invitation_roles_account_idx ON invitation_roles (account_id, invitation_id);

-- Revocations of a family are listed by root; the primary key leads with
-- the user.
CREATE INDEX revocations_root_idx ON revocations (root_id, user_id);

-- The audit log page filters a family's events by who acted, and shows
-- members' sign-ins, which carry no account.
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, id DESC) WHERE actor_user_id IS NOT NULL;
