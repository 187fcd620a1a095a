package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"carrierportal/internal/portal"
)

// PickerLimit is the most accounts one picker list shows: the header stays
// small and fast even for a family of ten thousand accounts.
const PickerLimit = 50

// RecentLimit is how many recently used accounts the picker offers.
const RecentLimit = 5

// recentKeep is how many recently used accounts are remembered per user.
const recentKeep = 20

// PickerEntry is one account the user can switch to.
type PickerEntry struct {
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	Status       string
}

// PickerHeader is what the header picker needs on every page.
type PickerHeader struct {
	// Others says whether the user can reach any account besides the
	// current one.
	Others bool
	// Recent are recently used accounts other than the current one,
	// newest first.
	Recent []PickerEntry
}

// candidateSQL narrows accounts to those the user $1 may reach (explicit
// memberships, and every sub-account of a root where the user is
// Principal) using the primary key and the parent index; reachableSQL then
// drops closed accounts and families the user is revoked in. Together they
// are the rule of Access, for many accounts at once.
const candidateSQL = `(a.id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1)
	OR a.parent_id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1 AND m.role = 'principal'))`

const reachableSQL = `a.status <> 'closed'
	AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = coalesce(a.parent_id, a.id))`

const pickerCols = `a.tech_prefix, a.company_name, a.company_alias, a.status`

func scanPickerEntry(row pgx.Row) (PickerEntry, error) {
	var e PickerEntry
	err := row.Scan(&e.TechPrefix, &e.CompanyName, &e.CompanyAlias, &e.Status)
	return e, err
}

// Picker loads the header picker for a user on the account with this tech
// prefix ("" on pages outside any account), in one round trip.
func (db *DB) Picker(ctx context.Context, userID int64, current string) (*PickerHeader, error) {
	b := &pgx.Batch{}
	p := queuePicker(b, userID, current)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err, "picker")
	}
	return p, nil
}

// queuePicker queues the picker's statements; the header is filled in once
// the batch has run.
func queuePicker(b *pgx.Batch, userID int64, current string) *PickerHeader {
	var p PickerHeader
	// Accounts of the user's memberships, then sub-accounts of roots where
	// the user is Principal: the rule of candidateSQL and reachableSQL, each
	// half walked from the user's memberships by an index.
	b.Queue(`SELECT EXISTS (SELECT 1 FROM memberships m JOIN accounts a ON a.id = m.account_id
			WHERE m.user_id = $1 AND a.tech_prefix <> $2 AND a.status <> 'closed'
			  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = coalesce(a.parent_id, a.id)))
		OR EXISTS (SELECT 1 FROM memberships m JOIN accounts a ON a.parent_id = m.account_id
			WHERE m.user_id = $1 AND m.role = 'principal' AND a.tech_prefix <> $2 AND a.status <> 'closed'
			  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = m.account_id))`,
		userID, current).QueryRow(func(row pgx.Row) error { return row.Scan(&p.Others) })
	b.Queue(`SELECT `+pickerCols+` FROM recent_accounts ra JOIN accounts a ON a.id = ra.account_id
		WHERE ra.user_id = $1 AND a.tech_prefix <> $2 AND `+candidateSQL+` AND `+reachableSQL+`
		ORDER BY ra.used_at DESC LIMIT $3`, userID, current, RecentLimit).Query(func(rows pgx.Rows) (err error) {
		p.Recent, err = scanAll(rows, scanPickerEntry)
		return err
	})
	return &p
}

// PickerSearch finds accounts the user can reach whose company name or
// alias contains q, or whose tech prefix starts with it, in name order; at
// most limit of them, and whether there are more. An empty q lists the
// first accounts by name.
func (db *DB) PickerSearch(ctx context.Context, userID int64, q string, limit int) ([]PickerEntry, bool, error) {
	limit = max(1, min(limit, PickerLimit))
	if words := nameSearch(q); words != "" {
		return db.pickerByName(ctx, userID, words, limit)
	}
	where, args := searchFilter(q, 2)
	// Explicit memberships, and each family where the user is Principal of
	// the root, are searched apart, each in name order and cut at the
	// limit: a family's search walks the parent index and stops early
	// instead of sorting the whole family. It runs with a generic plan:
	// the plans Postgres makes for each pattern mixed the trigram indexes
	// into the walk and took 4–27 ms on a family of ten thousand, against
	// 0.5–1.7 ms for the walk.
	n := strconv.Itoa(limit + 1)
	var list []PickerEntry
	b := &pgx.Batch{}
	b.Queue(`SELECT tech_prefix, company_name, company_alias, status FROM (
		(SELECT `+pickerCols+`, lower(a.company_name) AS k, a.id FROM accounts a
		 WHERE a.id IN (SELECT m.account_id FROM memberships m WHERE m.user_id = $1) AND `+reachableSQL+where+`
		 ORDER BY lower(a.company_name), a.id LIMIT `+n+`)
		UNION
		(SELECT s.* FROM memberships m, LATERAL (
			SELECT `+pickerCols+`, lower(a.company_name) AS k, a.id FROM accounts a
			WHERE a.parent_id = m.account_id AND a.status <> 'closed'`+where+`
			ORDER BY lower(a.company_name), a.id LIMIT `+n+`) s
		 WHERE m.user_id = $1 AND m.role = 'principal'
		   AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.user_id = $1 AND r.root_id = m.account_id))
		) x ORDER BY k, id LIMIT `+n, append([]any{userID}, args...)...).Query(func(rows pgx.Rows) (err error) {
		list, err = scanAll(rows, scanPickerEntry)
		return err
	})
	if err := db.sendGeneric(ctx, b); err != nil {
		return nil, false, mapErr(err, "picker search")
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	return list, more, nil
}

// nameSearch returns q as a LIKE pattern when the picker should find it
// through the trigram indexes of company names and aliases: three runes or
// more (fewer make no trigram), and not all digits (a tech prefix is eight
// digits, so text with anything else only matches names, and a string of
// digits is most likely the start of many prefixes). Otherwise "".
func nameSearch(q string) string {
	q = strings.TrimSpace(q)
	if len([]rune(q)) < 3 || strings.Trim(q, "0123456789") == "" {
		return ""
	}
	if len([]rune(q)) > portal.MaxNameRunes {
		q = string([]rune(q)[:portal.MaxNameRunes])
	}
	return "%" + escapeLike(strings.ToLower(q)) + "%"
}

// pickerByName is the picker search for a name: the accounts whose company
// name or alias matches come from the trigram indexes, then the user's
// reach is checked for each and the first by name kept. Walking a family of
// thousands in name order (the search for anything else) looks at every
// account before it finds a rare name. It runs with a generic plan: the
// trigram indexes take the pattern at run time.
func (db *DB) pickerByName(ctx context.Context, userID int64, like string, limit int) ([]PickerEntry, bool, error) {
	var list []PickerEntry
	b := &pgx.Batch{}
	b.Queue(`SELECT `+pickerCols+` FROM accounts a
		WHERE `+candidateSQL+` AND `+reachableSQL+`
		  AND (lower(a.company_name) LIKE $2 OR lower(a.company_alias) LIKE $2)
		ORDER BY lower(a.company_name), a.id LIMIT $3`, userID, like, limit+1).Query(func(rows pgx.Rows) (err error) {
		list, err = scanAll(rows, scanPickerEntry)
		return err
	})
	if err := db.sendGeneric(ctx, b); err != nil {
		return nil, false, mapErr(err, "picker search")
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	return list, more, nil
}

// searchFilter is the account search shared by the picker and the family
// lists: company or alias containing q (trigram indexes), or a tech prefix
// starting with it. Its placeholders start at n; it returns "" for no q.
func searchFilter(q string, n int) (string, []any) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", nil
	}
	if len([]rune(q)) > portal.MaxNameRunes {
		q = string([]rune(q)[:portal.MaxNameRunes])
	}
	like := "%" + escapeLike(strings.ToLower(q)) + "%"
	prefix := escapeLike(q) + "%"
	p1, p2 := "$"+strconv.Itoa(n), "$"+strconv.Itoa(n+1)
	return ` AND (lower(a.company_name) LIKE ` + p1 + ` OR lower(a.company_alias) LIKE ` + p1 +
		` OR a.tech_prefix LIKE ` + p2 + `)`, []any{like, prefix}
}

// escapeLike makes s match itself literally in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// RememberRecent records that the user switched to an account, keeping the
// last few per user.
func (db *DB) RememberRecent(ctx context.Context, userID, accountID int64) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO recent_accounts (user_id, account_id) VALUES ($1, $2)
			ON CONFLICT (user_id, account_id) DO UPDATE SET used_at = now()`, userID, accountID); err != nil {
			return mapErr(err, "remember recent")
		}
		_, err := tx.Exec(ctx, `DELETE FROM recent_accounts WHERE user_id = $1 AND account_id NOT IN
			(SELECT account_id FROM recent_accounts WHERE user_id = $1 ORDER BY used_at DESC LIMIT $2)`, userID, recentKeep)
		return mapErr(err, "trim recent")
	})
}
