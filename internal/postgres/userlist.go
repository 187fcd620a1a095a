package postgres

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// The User Management list reads the tables of migration 0009: a family's
// users from family_users and each user's roles from family_roles, so a view
// costs the family's users and the page's roles, not the family's accounts
// and memberships.
//
// The statement is built from the filters in use: an unused filter is left
// out rather than disabled by a parameter, so PostgreSQL can settle on one
// generic plan per shape after a few executions (with every filter in the
// text, the estimated cost of the unused ones kept it planning each call,
// about 2 ms on a family of ten thousand accounts).

// listArgs numbers the parameters of a statement as they are added.
type listArgs []any

func (a *listArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// roleRankSQL ranks a role as family_roles does.
func roleRankSQL(role string) string {
	return "CASE " + role + " WHEN 'principal' THEN 3 WHEN 'power' THEN 2 ELSE 1 END"
}

// accountMatchSQL is the account filter: the start of a tech prefix,
// company name or alias (case-insensitive) of account t.
func accountMatchSQL(t, p string) string {
	return "(starts_with(" + t + ".tech_prefix, " + p + ") OR starts_with(lower(" + t + ".company_name), lower(" + p + "))" +
		" OR starts_with(lower(" + t + ".company_alias), lower(" + p + ")))"
}

// typeFilterSQL keeps the rows of one user type of the list.
var typeFilterSQL = map[string]string{
	"revoked":   "status = 'revoked'",
	"invited":   "invitation_id <> 0",
	"principal": "status <> 'revoked' AND top = 3",
	"power":     "status <> 'revoked' AND top = 2",
	"general":   "status <> 'revoked' AND top = 1",
}

// noRolesSQL stands for the role columns of a user row whose roles are
// looked up once the page is cut.
const noRolesSQL = "NULL::bigint[] AS ids, NULL::smallint[] AS ranks, NULL::text[] AS prefixes, NULL::text[] AS companies"

// topRolesKept is how many roles family_users keeps per user (migration
// 0009): a list that names at most that many a row reads them from there.
const topRolesKept = 10

// rolesSQL aggregates the roles of one row of the list, given as a source
// of (account_id, tech_prefix, company_name, rank), into arrays in the
// scope's order (root first, then by company), as family_users keeps them.
func rolesSQL(root, source string) string {
	by := " ORDER BY s.account_id <> " + root + ", lower(s.company_name), s.account_id)"
	return `SELECT array_agg(s.account_id` + by + ` AS ids, array_agg(s.rank` + by + ` AS ranks,
       array_agg(s.tech_prefix` + by + ` AS prefixes, array_agg(s.company_name` + by + ` AS companies
    FROM (` + source + `) s`
}

// managedUsersQuery builds the list of the scope's users and pending
// invitations, filtered and paged together, in the list's order. Each row
// carries its roles as rolesSQL gives them.
func managedUsersQuery(scope *UserScope, f UserFilter) (string, []any) {
	var a listArgs
	root := a.add(scope.RootID)
	family := scope.AccountID == scope.RootID
	acct, inScope := root, "(s.id = "+root+" OR s.parent_id = "+root+") AND s.status <> 'closed'"
	if !family {
		acct = a.add(scope.AccountID)
		inScope = "s.id = " + acct + " AND s.status <> 'closed'"
	}
	var userID, accountID, account string
	if f.UserID != 0 {
		userID = a.add(f.UserID)
	}
	if f.AccountID != 0 {
		accountID = a.add(f.AccountID)
	}
	if f.Account != "" {
		account = a.add(f.Account)
	}
	var q strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			q.WriteString(p)
		}
	}
	// A user's roles come with the row when they are at hand: the first
	// ones family_users keeps, or the one role on a sub-account. Otherwise
	// they are looked up for the page's rows only, once it is cut.
	cached := family && f.MaxRoles > 0 && f.MaxRoles <= topRolesKept
	userRoles := noRolesSQL
	switch {
	case cached:
		userRoles = "f.top_accounts AS ids, f.top_ranks AS ranks, f.top_prefixes AS prefixes, f.top_companies AS companies"
	case !family:
		userRoles = "ARRAY[x.account_id] AS ids, ARRAY[x.rank] AS ranks, ARRAY[x.tech_prefix] AS prefixes, ARRAY[x.company_name] AS companies"
	}
	w("WITH mem AS (\n")
	if family {
		// Everyone with a role on an open account of the family; managed
		// here unless they also hold roles on closed accounts of it.
		w(`SELECT f.user_id, 0::bigint AS invitation_id, u.full_name, u.email, u.last_login_at,
       NULL::timestamptz AS sent_at, NULL::timestamptz AS expires_at, ''::text AS invited_by,
       f.principals + f.powers + f.generals AS n,
       CASE WHEN f.principals > 0 THEN 3 WHEN f.powers > 0 THEN 2 ELSE 1 END AS top,
       f.closed = 0 AS manageable,
       f.user_id IN (SELECT r.user_id FROM revocations r WHERE r.root_id = `, root, `) AS revoked,
       `, userRoles, `
FROM family_users f JOIN users u ON u.id = f.user_id
WHERE f.root_id = `, root, ` AND f.principals + f.powers + f.generals > 0`)
		if userID != "" {
			w(" AND f.user_id = ", userID)
		}
		if accountID != "" {
			w("\n  AND EXISTS (SELECT 1 FROM family_roles x WHERE x.user_id = f.user_id AND x.account_id = ", accountID,
				" AND x.root_id = ", root, " AND x.open)")
		}
		if account != "" {
			w("\n  AND EXISTS (SELECT 1 FROM family_roles x WHERE x.root_id = ", root, " AND x.user_id = f.user_id AND x.open AND ",
				accountMatchSQL("x", account), ")")
		}
	} else {
		// The users of one sub-account; managed here when it is the only
		// account of the family they work on.
		w(`SELECT x.user_id, 0::bigint AS invitation_id, u.full_name, u.email, u.last_login_at,
       NULL::timestamptz AS sent_at, NULL::timestamptz AS expires_at, ''::text AS invited_by,
       1 AS n, x.rank::int AS top,
       f.principals + f.powers + f.generals + f.closed = 1 AS manageable,
       EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = x.user_id AND r.root_id = `, root, `) AS revoked,
       `, userRoles, `
FROM family_roles x JOIN users u ON u.id = x.user_id
JOIN family_users f ON f.root_id = x.root_id AND f.user_id = x.user_id
WHERE x.account_id = `, acct, ` AND x.root_id = `, root, ` AND x.open`)
		if userID != "" {
			w(" AND x.user_id = ", userID)
		}
		if accountID != "" {
			w(" AND x.account_id = ", accountID)
		}
		if account != "" {
			w(" AND ", accountMatchSQL("x", account))
		}
	}
	w("\n)")
	// cut limits a source of roles to the ones a row names; its parameter
	// is added only if used, as PostgreSQL must know each parameter's type.
	cutArg := ""
	cut := func() string {
		if f.MaxRoles <= 0 {
			return ""
		}
		if cutArg == "" {
			cutArg = a.add(f.MaxRoles)
		}
		return " LIMIT " + cutArg
	}
	if userID == "" {
		// Pending invitations with a role in the scope, and those roles;
		// managed here unless they grant roles outside the scope too.
		inScopeRole := func(extra string) string {
			return "EXISTS (SELECT 1 FROM invitation_roles ir JOIN accounts s ON s.id = ir.account_id WHERE ir.invitation_id = i.id AND " +
				inScope + extra + ")"
		}
		w(`, inv AS (
SELECT 0::bigint, i.id, i.full_name, i.email, NULL::timestamptz, i.sent_at, i.expires_at, iu.full_name, g.n, g.top,
       NOT EXISTS (SELECT 1 FROM invitation_roles x WHERE x.invitation_id = i.id
                   AND NOT EXISTS (SELECT 1 FROM accounts s WHERE s.id = x.account_id AND `, inScope, `)),
       false, r.ids, r.ranks, r.prefixes, r.companies
FROM invitations i JOIN users iu ON iu.id = i.invited_by
CROSS JOIN LATERAL (SELECT count(*)::int AS n, max(`, roleRankSQL("ir.role"), `) AS top
                    FROM invitation_roles ir JOIN accounts s ON s.id = ir.account_id
                    WHERE ir.invitation_id = i.id AND `, inScope, `) g
CROSS JOIN LATERAL (`, rolesSQL(root, `SELECT ir.account_id, s.tech_prefix, s.company_name, (`+roleRankSQL("ir.role")+`)::smallint AS rank
       FROM invitation_roles ir JOIN accounts s ON s.id = ir.account_id
       WHERE ir.invitation_id = i.id AND `+inScope+` ORDER BY rank DESC, ir.account_id`+cut()), `) r
WHERE i.status = 'pending' AND g.n > 0`)
		if accountID != "" {
			w("\n  AND ", inScopeRole(" AND ir.account_id = "+accountID))
		}
		if account != "" {
			w("\n  AND ", inScopeRole(" AND "+accountMatchSQL("s", account)))
		}
		w("\n)")
	}
	w(`, rows AS (
SELECT x.*, CASE WHEN x.revoked THEN 'revoked'
                 WHEN x.invitation_id <> 0 AND x.expires_at <= now() THEN 'expired'
                 WHEN x.invitation_id <> 0 THEN 'pending'
                 ELSE 'active' END AS status
FROM (SELECT * FROM mem`)
	if userID == "" {
		w(" UNION ALL SELECT * FROM inv")
	}
	// The sort keys are columns of the page, so the rows leave it in the
	// order the statement returns them.
	w(`) x
), page AS (
SELECT *, lower(full_name) AS name_key, lower(email) AS email_key, count(*) OVER () AS total FROM rows`)
	var where []string
	if f.Query != "" {
		p := a.add(f.Query)
		where = append(where, "(strpos(lower(full_name), lower("+p+")) > 0 OR strpos(lower(email), lower("+p+")) > 0)")
	}
	if f.Type != "" {
		cond, ok := typeFilterSQL[f.Type]
		if !ok {
			cond = "false"
		}
		where = append(where, cond)
	}
	if len(where) > 0 {
		w(" WHERE ", strings.Join(where, " AND "))
	}
	w("\nORDER BY name_key, email_key, invitation_id LIMIT ", a.add(f.Limit), " OFFSET ", a.add(f.Offset), "\n)\n")
	if userRoles != noRolesSQL {
		w(`SELECT p.user_id, p.invitation_id, p.full_name, p.email, p.last_login_at, p.sent_at, p.expires_at, p.invited_by,
       p.n, p.top, p.manageable, p.status, p.total, p.ids, p.ranks, p.prefixes, p.companies
FROM page p`)
	} else {
		w(`SELECT p.user_id, p.invitation_id, p.full_name, p.email, p.last_login_at, p.sent_at, p.expires_at, p.invited_by,
       p.n, p.top, p.manageable, p.status, p.total,
       coalesce(u.ids, p.ids), coalesce(u.ranks, p.ranks), coalesce(u.prefixes, p.prefixes), coalesce(u.companies, p.companies)
FROM page p
LEFT JOIN LATERAL (`, rolesSQL(root, `SELECT x.account_id, x.tech_prefix, x.company_name, x.rank FROM family_roles x
       WHERE x.root_id = `+root+` AND x.user_id = p.user_id AND x.open ORDER BY x.rank DESC, x.account_id`+cut()), ") u ON p.invitation_id = 0")
	}
	w("\nORDER BY p.name_key, p.email_key, p.invitation_id")
	return q.String(), a
}

// topRoles maps the ranks of the list to roles.
var topRoles = map[int]portal.Role{3: portal.RolePrincipal, 2: portal.RolePower, 1: portal.RoleGeneral}

// scanManagedUsers reads the rows of managedUsersQuery. A row's roles come
// in the scope's order; with more than maxRoles (0: no cut), it keeps the
// highest (then the lowest account ids), still in that order.
func scanManagedUsers(rows pgx.Rows, maxRoles int) ([]ManagedUser, int, error) {
	defer rows.Close()
	var out []ManagedUser
	total := 0
	var ids []int64
	var ranks []int16
	var prefixes, companies []string
	for rows.Next() {
		var u ManagedUser
		var n, top int
		if err := rows.Scan(&u.UserID, &u.InvitationID, &u.Name, &u.Email, &u.LastLoginAt, &u.SentAt, &u.ExpiresAt,
			&u.InvitedBy, &n, &top, &u.Manageable, &u.Status, &total, &ids, &ranks, &prefixes, &companies); err != nil {
			return nil, 0, err
		}
		keep := rolesKept(ids, ranks, maxRoles)
		u.Roles = make([]AccountRole, 0, len(ids))
		for i, id := range ids {
			if keep == nil || keep[i] {
				u.Roles = append(u.Roles, AccountRole{AccountID: id, TechPrefix: prefixes[i], CompanyName: companies[i], Role: topRoles[int(ranks[i])]})
			}
		}
		u.MoreRoles = n - len(u.Roles)
		u.top = topRoles[top]
		out = append(out, u)
	}
	return out, total, rows.Err()
}

// rolesKept marks the roles a cut to maxRoles keeps: the highest, then the
// lowest account ids. It is nil when every role is kept.
func rolesKept(ids []int64, ranks []int16, maxRoles int) []bool {
	if maxRoles <= 0 || len(ids) <= maxRoles {
		return nil
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		return cmp.Or(cmp.Compare(ranks[y], ranks[x]), cmp.Compare(ids[x], ids[y]))
	})
	keep := make([]bool, len(ids))
	for _, i := range order[:maxRoles] {
		keep[i] = true
	}
	return keep
}

// ManagedUsers lists the users and pending invitations of the scope, and
// how many match in all.
func (db *DB) ManagedUsers(ctx context.Context, scope *UserScope, f UserFilter) ([]ManagedUser, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	sql, args := managedUsersQuery(scope, f)
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, mapErr(err, "managed users")
	}
	users, total, err := scanManagedUsers(rows, f.MaxRoles)
	return users, total, mapErr(err, "managed users")
}

// userScopeHeadSQL reads what the list page says about the scope of account
// $1: the account, its root's name and the number of accounts managed (a
// root's open family, as family_totals counts it: not ten thousand index
// entries a view).
const userScopeHeadSQL = `SELECT a.tech_prefix, a.company_name, a.company_alias, a.status, r.company_name,
	CASE WHEN a.parent_id IS NULL THEN coalesce((SELECT t.accounts FROM family_totals t WHERE t.root_id = a.id), 1) ELSE 1 END
FROM accounts a JOIN accounts r ON r.id = coalesce(a.parent_id, a.id)
WHERE a.id = $1 AND a.status <> 'closed'`

// UserList loads the User Management page of acct in one round trip: its
// scope (a root's without the accounts of the family, only their number)
// and one page of the list.
func (db *DB) UserList(ctx context.Context, acct portal.Account, f UserFilter) (*UserScope, []ManagedUser, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	scope := &UserScope{RootID: acct.RootID(), AccountID: acct.ID}
	found := false
	var users []ManagedUser
	total := 0
	b := &pgx.Batch{}
	b.Queue(userScopeHeadSQL, acct.ID).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			sa := ScopeAccount{ID: acct.ID, IsRoot: acct.ParentID == nil}
			if err := rows.Scan(&sa.TechPrefix, &sa.CompanyName, &sa.CompanyAlias, &sa.Status, &scope.RootCompany, &scope.Size); err != nil {
				return err
			}
			if !sa.IsRoot {
				scope.Accounts = []ScopeAccount{sa}
			}
			found = true
		}
		return rows.Err()
	})
	sql, args := managedUsersQuery(scope, f)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
		users, total, err = scanManagedUsers(rows, f.MaxRoles)
		return err
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, 0, mapErr(err, "user list")
	}
	if !found {
		return nil, nil, 0, portal.ErrNotFound
	}
	return scope, users, total, nil
}
