-- The User Management list as it was read before migration 0009, straight
-- from memberships and accounts: the reference the tests hold the list to.
-- $1 managing account, $2 family root, $3 search, $4 account id, $5 type,
-- $6 limit, $7 user id, $8 offset, $9 $1 is the root, $10 account text,
-- $11 roles a row names (0: all).
WITH fam AS (
    -- Every membership of the user in the family, marked in or out of the
    -- scope: one pass gives both the scope's roles and whether the user
    -- reaches accounts outside it.
    SELECT m.user_id, m.account_id, m.role,
           (s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed' AS in_scope
    FROM memberships m JOIN accounts s ON s.id = m.account_id
    WHERE (s.id = $2 OR s.parent_id = $2)
      AND ($7::bigint = 0 OR m.user_id = $7::bigint)
      AND ($9 OR m.user_id IN (SELECT o.user_id FROM memberships o WHERE o.account_id = $1))
), mem AS (
    SELECT u.id AS user_id, 0::bigint AS invitation_id, u.full_name, u.email, u.last_login_at,
           EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = u.id AND r.root_id = $2) AS revoked,
           NULL::timestamptz AS sent_at, NULL::timestamptz AS expires_at, ''::text AS invited_by,
           g.account_ids, g.roles, g.manageable
    FROM (SELECT user_id, array_agg(account_id) FILTER (WHERE in_scope) AS account_ids,
                 array_agg(role) FILTER (WHERE in_scope) AS roles, bool_and(in_scope) AS manageable
          FROM fam GROUP BY user_id HAVING bool_or(in_scope)) g
    JOIN users u ON u.id = g.user_id
), inv AS (
    SELECT 0::bigint, i.id, i.full_name, i.email, NULL::timestamptz, false, i.sent_at, i.expires_at, iu.full_name,
           array_agg(ir.account_id ORDER BY ir.account_id), array_agg(ir.role ORDER BY ir.account_id),
           NOT EXISTS (SELECT 1 FROM invitation_roles x WHERE x.invitation_id = i.id AND NOT EXISTS (SELECT 1 FROM accounts s WHERE s.id = x.account_id AND (s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed'))
    FROM invitations i
    JOIN invitation_roles ir ON ir.invitation_id = i.id AND EXISTS (SELECT 1 FROM accounts s WHERE s.id = ir.account_id AND (s.id = $1 OR ($9 AND s.parent_id = $1)) AND s.status <> 'closed')
    JOIN users iu ON iu.id = i.invited_by
    WHERE i.status = 'pending' AND $7::bigint = 0
    GROUP BY i.id, iu.full_name
), rows AS (
    SELECT x.*,
           CASE WHEN x.revoked THEN 'revoked'
                WHEN x.invitation_id <> 0 AND x.expires_at <= now() THEN 'expired'
                WHEN x.invitation_id <> 0 THEN 'pending'
                ELSE 'active' END AS status,
           (SELECT max(CASE r WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END) FROM unnest(x.roles) r) AS top
    FROM (SELECT * FROM mem UNION ALL SELECT * FROM inv) x
)
SELECT p.user_id, p.invitation_id, p.full_name, p.email, p.last_login_at, p.sent_at, p.expires_at, p.invited_by,
       r.ids, r.prefixes, r.companies, r.roles, cardinality(p.account_ids), coalesce(p.top, 0), p.manageable, p.status, p.total
FROM (
    SELECT *, count(*) OVER () AS total
    FROM rows
    WHERE ($3::text = '' OR strpos(lower(full_name), lower($3)) > 0 OR strpos(lower(email), lower($3)) > 0)
      AND ($4::bigint = 0 OR $4::bigint = ANY(account_ids))
      AND ($10::text = '' OR EXISTS (SELECT 1 FROM accounts f WHERE f.id = ANY(account_ids)
           AND (starts_with(f.tech_prefix, $10) OR starts_with(lower(f.company_name), lower($10))
                OR starts_with(lower(f.company_alias), lower($10)))))
      AND CASE $5::text
          WHEN '' THEN true
          WHEN 'revoked' THEN status = 'revoked'
          WHEN 'invited' THEN invitation_id <> 0
          WHEN 'principal' THEN status <> 'revoked' AND top = 3
          WHEN 'power' THEN status <> 'revoked' AND top = 2
          WHEN 'general' THEN status <> 'revoked' AND top = 1
          ELSE false END
    ORDER BY lower(full_name), lower(email), invitation_id
    LIMIT $6 OFFSET $8
) p
CROSS JOIN LATERAL (
    -- With a cut, the highest roles are named first; the accounts are
    -- looked up for the roles named only.
    SELECT array_agg(a.id ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS ids,
           array_agg(a.tech_prefix ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS prefixes,
           array_agg(a.company_name ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS companies,
           array_agg(x.role ORDER BY a.parent_id IS NOT NULL, lower(a.company_name), a.id) AS roles
    FROM (SELECT x.id, x.role::text AS role FROM unnest(p.account_ids, p.roles) x(id, role)
          ORDER BY CASE x.role::text WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END DESC, x.id
          LIMIT nullif($11::int, 0)) x
    JOIN accounts a ON a.id = x.id
) r
ORDER BY lower(p.full_name), lower(p.email), p.invitation_id
