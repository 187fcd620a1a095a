// Package migrations embeds the forward-only SQL migrations of the portal.
// Files are named NNNN_name.sql and applied in order; a landed file is never
// edited.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
