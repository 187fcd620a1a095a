package server

import (
	"net/http"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, f web.Form) {
	aa := accessFrom(r.Context())
	keys, err := s.db.APIKeys(r.Context(), aa.Account.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.APIKeysProps{Base: acctURL(aa, ""), TechPrefix: aa.Account.TechPrefix, Form: f}
	for _, k := range keys {
		p.Keys = append(p.Keys, web.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt,
			LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt})
	}
	s.render(w, r, status, web.APIKeysPage(s.chrome(r, "API keys"), p))
}

func (s *Server) apiKeysPage(w http.ResponseWriter, r *http.Request) {
	s.renderAPIKeys(w, r, http.StatusOK, web.NewForm())
}

// createAPIKey makes a key and shows its secret, once.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "name")
	if !ok {
		return
	}
	aa := accessFrom(r.Context())
	name, err := portal.CleanName("name", "Name", in["name"])
	if err == nil && len([]rune(name)) > 60 {
		err = portal.FieldError("name", "Name must be at most 60 characters.")
	}
	if err != nil {
		s.renderAPIKeys(w, r, http.StatusUnprocessableEntity, formFrom(in, portal.FieldErrors{"name": portal.ErrorMessage(err)}))
		return
	}
	_, secret, err := s.db.CreateAPIKey(r.Context(), s.actor(r), aa.Account.ID, name)
	if portal.ErrorCode(err) == portal.ECONFLICT {
		s.renderAPIKeys(w, r, http.StatusUnprocessableEntity, formFrom(in, portal.FieldErrors{"_form": portal.ErrorMessage(err)}))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.showSecret(w, r, web.SecretProps{Heading: "API key created", Intro: "The secret of the key “" + name + "” is:",
		Label: "Secret", Secret: secret, BackURL: acctURL(aa, "api-keys"), BackLabel: "Back to API keys"})
}

// rotateAPIKey replaces a key's secret and shows the new one, once.
func (s *Server) rotateAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	aa := accessFrom(r.Context())
	secret, err := s.db.RotateAPIKey(r.Context(), s.actor(r), aa.Account.ID, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.showSecret(w, r, web.SecretProps{Heading: "API key rotated", Intro: "The key has a new secret; the old one no longer works. The new secret is:",
		Label: "Secret", Secret: secret, BackURL: acctURL(aa, "api-keys"), BackLabel: "Back to API keys"})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	aa := accessFrom(r.Context())
	if err := s.db.RevokeAPIKey(r.Context(), s.actor(r), aa.Account.ID, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "The API key was revoked. It no longer works.")
	redirect(w, r, acctURL(aa, "api-keys"))
}
