package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// sendGeneric runs a batch of page reads with generic plans. Postgres
// plans a prepared statement afresh for each of its first five executions
// on a connection, then keeps a generic plan only if it does not look
// costlier than the custom ones; for the summaries' statements, built of
// unions and subqueries on the user, it never does, and planning them cost
// more than running them (0.5–1 ms against tenths of one). Their generic
// plans were checked with EXPLAIN on the large data set. The summaries'
// searches, whose LIKE patterns the planner must see, are not sent this
// way; the picker's searches are (its name search is served by trigram
// indexes, which take the pattern at run time, and its other searches walk
// a family in name order, which the plans made for each pattern did not).
// The setting is set and reset inside the batch's implicit transaction: if
// a statement fails, the rollback undoes the SET too, so the pooled
// connection never keeps it.
func (db *DB) sendGeneric(ctx context.Context, b *pgx.Batch) error {
	g := &pgx.Batch{}
	g.Queue(`SET plan_cache_mode = force_generic_plan`)
	g.QueuedQueries = append(g.QueuedQueries, b.QueuedQueries...)
	g.Queue(`RESET plan_cache_mode`)
	return db.Pool.SendBatch(ctx, g).Close()
}

// sendPage runs a page's batch, with generic plans unless it searches.
func (db *DB) sendPage(ctx context.Context, b *pgx.Batch, generic bool) error {
	if generic {
		return db.sendGeneric(ctx, b)
	}
	return db.Pool.SendBatch(ctx, b).Close()
}
