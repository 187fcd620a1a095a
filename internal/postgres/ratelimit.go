package postgres

import (
	"context"
	"math/rand/v2"
	"time"
)

// Hit counts one event against key in a fixed window shared by every
// instance, and reports whether it is within limit, and if not, how long
// until the window ends.
func (db *DB) Hit(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	secs := int64(window / time.Second)
	if secs < 1 {
		secs = 1
	}
	var count int
	var retry float64
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO rate_limits (key, window_start, count)
		VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
		RETURNING count, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8`, key, secs).Scan(&count, &retry)
	if err != nil {
		return false, 0, mapErr(err, "rate limit")
	}
	if rand.IntN(200) == 0 {
		_, _ = db.Pool.Exec(ctx, `DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'`)
	}
	if count > limit {
		return false, time.Duration(retry * float64(time.Second)), nil
	}
	return true, 0, nil
}
