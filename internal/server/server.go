// Package server is the portal's HTTP layer: the chi routes (all in
// routes.go), middleware and one file of handlers per area.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"

	"carrierportal/internal/config"
	"carrierportal/internal/postgres"
)

// Server holds what every handler needs.
type Server struct {
	cfg      *config.Config
	db       *postgres.DB
	log      *slog.Logger
	sessions *scs.SessionManager
	staff    *scs.SessionManager
	store    *sessionStore
	// cacheSync keeps the session cache coherent across instances;
	// RunCacheSync runs it.
	cacheSync *postgres.CacheSync
	// confirmers handle email links by token purpose.
	confirmers map[string]confirmer
	// picks keeps the picker's search answers and header pickers; access
	// users' access to accounts.
	picks  *pickerCache
	access *accessCache
	// views keeps rendered pages of families, stamped with their versions.
	views   *viewCache
	handler http.Handler
	router  chi.Router
}

// New wires a server. Close releases its background work.
func New(cfg *config.Config, db *postgres.DB, logger *slog.Logger) *Server {
	s := &Server{cfg: cfg, db: db, log: logger}
	s.cacheSync = postgres.NewCacheSync(db.Pool)
	s.cacheSync.OnError = func(err error) { s.log.Warn("session cache listener", "err", err) }
	s.store = newSessionStore(db, newSessionCache(s.cacheSync))
	s.picks, s.access = newPickerCache(s.cacheSync), newAccessCache(s.cacheSync)
	s.store.picks, s.store.access = s.picks, s.access
	s.cacheSync.Invalidate = func(key string) {
		s.store.cache.invalidate(key)
		s.picks.invalidate(key)
		s.access.invalidate(key)
	}
	s.cacheSync.Reset = func() { s.store.cache.reset(); s.picks.invalidate(""); s.access.invalidate("") }
	s.sessions = newSessionManager(cfg, s.store, "portal_session", "/")
	s.staff = newSessionManager(cfg, s.store, "portal_staff", "/staff")
	// A session that cannot be loaded or saved (the database is down) gets
	// the same error page, logged with its request id, as any other failure.
	s.sessions.ErrorFunc = s.serverError
	s.staff.ErrorFunc = s.serverError
	s.confirmers = s.newConfirmers()
	s.views = newViewCache(viewCacheLimit)
	if !cfg.PageCache {
		s.views.off, s.picks.off, s.access.off = true, true, true
	}
	s.handler = s.routes()
	return s
}

// RunCacheSync keeps this instance's session cache coherent with the
// database and every other instance until ctx ends; without it the cache is
// never used. Every instance on a database must run it: a request that
// changes something waits for every instance's answer.
func (s *Server) RunCacheSync(ctx context.Context) { s.cacheSync.Run(ctx) }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
