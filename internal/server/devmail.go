package server

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/postgres"
	"carrierportal/web"
)

var linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)

func devItem(m postgres.DevMail) web.DevMailItem {
	return web.DevMailItem{ID: m.ID, When: m.CreatedAt.Format("2006-01-02 15:04:05"), To: m.To, Subject: m.Subject,
		Text: m.Text, HTML: m.HTML, Links: linkRE.FindAllString(m.Text, -1)}
}

// devMailbox lists what the development mailer sent (development only).
func (s *Server) devMailbox(w http.ResponseWriter, r *http.Request) {
	ms, err := s.db.DevMails(r.Context(), 200)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	items := make([]web.DevMailItem, len(ms))
	for i, m := range ms {
		items[i] = devItem(m)
	}
	s.render(w, r, http.StatusOK, web.DevMailboxPage(s.chrome(r, "Mailbox"), items))
}

func (s *Server) devMail(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.notFound(w, r)
		return
	}
	m, err := s.db.DevMailByID(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.DevMailPage(s.chrome(r, m.Subject), devItem(*m)))
}
