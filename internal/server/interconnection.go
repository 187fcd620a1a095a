package server

import (
	"net/http"
	"net/netip"
	"strconv"

	"github.com/go-chi/chi/v5"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// pathID reads a positive numeric id from the path, written the one way
// ids are written (no sign, no leading zero); anything else is not found,
// like an id of another account.
func pathID(r *http.Request, name string) (int64, bool) {
	v := chi.URLParam(r, name)
	if v == "" || len(v) > 19 || v[0] < '1' || v[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

// icForms carries the add forms of the interconnection page, so a failed
// add shows its own form with the input and errors.
type icForms struct{ host, cred, route web.Form }

func (s *Server) renderInterconnection(w http.ResponseWriter, r *http.Request, status int, f icForms) {
	aa := accessFrom(r.Context())
	ic, err := s.db.Interconnection(r.Context(), aa.Account.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.InterconnectionProps{Base: acctURL(aa, ""), TechPrefix: aa.Account.TechPrefix, Realm: portal.SIPRealm,
		HostForm: f.host, CredForm: f.cred, RouteForm: f.route, CanEdit: aa.Can(portal.ActionEditInterconnection)}
	for _, h := range ic.Hosts {
		p.Hosts = append(p.Hosts, web.HostRow{ID: h.ID, Address: h.Display(), Description: h.Description, CreatedAt: h.CreatedAt})
	}
	for _, c := range ic.Credentials {
		p.Credentials = append(p.Credentials, web.CredentialRow{ID: c.ID, Username: c.Username, Description: c.Description, PasswordChangedAt: c.PasswordChangedAt})
	}
	for _, rt := range ic.Routes {
		p.Routes = append(p.Routes, web.RouteRow{ID: rt.ID, Name: rt.Name, Target: rt.Target, Numbers: rt.Numbers})
	}
	s.render(w, r, status, web.InterconnectionPage(s.chrome(r, "Interconnection"), p))
}

func (s *Server) interconnectionPage(w http.ResponseWriter, r *http.Request) {
	s.renderInterconnection(w, r, http.StatusOK, icForms{web.NewForm(), web.NewForm(), web.NewForm()})
}

// icDone finishes a successful change with a message.
func (s *Server) icDone(w http.ResponseWriter, r *http.Request, msg string) {
	s.setFlash(w, "ok", msg)
	redirect(w, r, acctURL(accessFrom(r.Context()), "interconnection"))
}

// icFailed answers a store error: invalid input and conflicts go back to
// the form they came from, everything else to the error page.
func (s *Server) icFailed(w http.ResponseWriter, r *http.Request, err error, in map[string]string, field string, again func(web.Form)) {
	code := portal.ErrorCode(err)
	if code != portal.EINVALID && code != portal.ECONFLICT {
		s.renderError(w, r, err)
		return
	}
	errs := portal.FieldErrors{}
	errs.AddErr(field, err)
	again(formFrom(in, errs))
}

// hostInput validates the fields of a host form.
func hostInput(in map[string]string) (netip.Prefix, string, portal.FieldErrors) {
	errs := portal.FieldErrors{}
	p, err := portal.ParseSIPHost("address", in["address"])
	errs.AddErr("address", err)
	desc, err := portal.CleanText("description", "Description", in["description"], false, 100)
	errs.AddErr("description", err)
	return p, desc, errs
}

func (s *Server) hostAdd(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "address", "description")
	if !ok {
		return
	}
	again := func(f web.Form) {
		s.renderInterconnection(w, r, http.StatusUnprocessableEntity, icForms{f, web.NewForm(), web.NewForm()})
	}
	p, desc, errs := hostInput(in)
	if len(errs) > 0 {
		again(formFrom(in, errs))
		return
	}
	aa := accessFrom(r.Context())
	if _, err := s.db.AddSIPHost(r.Context(), s.actor(r), aa.Account.ID, p, desc); err != nil {
		s.icFailed(w, r, err, in, "address", again)
		return
	}
	s.icDone(w, r, "Added host "+postgres.SIPHost{Address: p}.Display()+".")
}

// icEdit renders the edit page of one host, credential or route.
func (s *Server) icEdit(w http.ResponseWriter, r *http.Request, status int, kind string, id int64, f *web.Form) {
	aa := accessFrom(r.Context())
	ctx := r.Context()
	p := web.InterconnectEditProps{Base: acctURL(aa, ""), Kind: kind, ID: id, Form: web.NewForm(), CanEdit: aa.Can(portal.ActionEditInterconnection)}
	switch kind {
	case "hosts":
		h, err := s.db.SIPHost(ctx, aa.Account.ID, id)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		p.Title = "SIP host " + h.Display()
		p.Form.Values["address"], p.Form.Values["description"] = h.Display(), h.Description
	case "credentials":
		c, err := s.db.SIPCredential(ctx, aa.Account.ID, id)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		p.Title, p.Username = "SIP credential "+c.Username, c.Username
		p.Form.Values["description"] = c.Description
	case "routes":
		rt, err := s.db.InboundRoute(ctx, aa.Account.ID, id)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		p.Title = "Inbound route " + rt.Name
		p.Form.Values["name"], p.Form.Values["target"] = rt.Name, rt.Target
	}
	if f != nil {
		p.Form = *f
	}
	s.render(w, r, status, web.InterconnectEditPage(s.chrome(r, p.Title), p))
}

// icEditPage serves GET …/interconnection/{kind}/{id} for one kind.
func (s *Server) icEditPage(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			s.notFound(w, r)
			return
		}
		s.icEdit(w, r, http.StatusOK, kind, id, nil)
	}
}

func (s *Server) hostUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	in, ok := parseForm(w, r, "address", "description")
	if !ok {
		return
	}
	again := func(f web.Form) { s.icEdit(w, r, http.StatusUnprocessableEntity, "hosts", id, &f) }
	p, desc, errs := hostInput(in)
	if len(errs) > 0 {
		again(formFrom(in, errs))
		return
	}
	aa := accessFrom(r.Context())
	if err := s.db.UpdateSIPHost(r.Context(), s.actor(r), aa.Account.ID, id, p, desc); err != nil {
		s.icFailed(w, r, err, in, "address", again)
		return
	}
	s.icDone(w, r, "Saved host "+p.String()+".")
}

func (s *Server) hostDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if err := s.db.DeleteSIPHost(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.icDone(w, r, "The host was deleted.")
}

// showSecret renders a secret that exists only in this response.
func (s *Server) showSecret(w http.ResponseWriter, r *http.Request, p web.SecretProps) {
	s.render(w, r, http.StatusOK, web.SecretPage(s.chrome(r, p.Heading), p))
}

func (s *Server) credentialAdd(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "username", "description")
	if !ok {
		return
	}
	again := func(f web.Form) {
		s.renderInterconnection(w, r, http.StatusUnprocessableEntity, icForms{web.NewForm(), f, web.NewForm()})
	}
	errs := portal.FieldErrors{}
	username, err := portal.CleanSIPUsername("username", in["username"])
	errs.AddErr("username", err)
	desc, err := portal.CleanText("description", "Description", in["description"], false, 100)
	errs.AddErr("description", err)
	if len(errs) > 0 {
		again(formFrom(in, errs))
		return
	}
	aa := accessFrom(r.Context())
	_, password, err := s.db.AddSIPCredential(r.Context(), s.actor(r), aa.Account.ID, username, desc)
	if err != nil {
		s.icFailed(w, r, err, in, "username", again)
		return
	}
	s.showSecret(w, r, web.SecretProps{Heading: "SIP credential created",
		Intro: "Register with user name " + username + ", realm " + portal.SIPRealm + " and this password.",
		Label: "Password", Secret: password, BackURL: acctURL(aa, "interconnection"), BackLabel: "Back to Interconnection"})
}

func (s *Server) credentialUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	in, ok := parseForm(w, r, "description")
	if !ok {
		return
	}
	desc, err := portal.CleanText("description", "Description", in["description"], false, 100)
	if err != nil {
		f := formFrom(in, portal.FieldErrors{"description": portal.ErrorMessage(err)})
		s.icEdit(w, r, http.StatusUnprocessableEntity, "credentials", id, &f)
		return
	}
	if err := s.db.UpdateSIPCredential(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, id, desc); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.icDone(w, r, "The credential was saved.")
}

func (s *Server) credentialReset(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	aa := accessFrom(r.Context())
	c, err := s.db.SIPCredential(r.Context(), aa.Account.ID, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	password, err := s.db.ResetSIPPassword(r.Context(), s.actor(r), aa.Account.ID, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.showSecret(w, r, web.SecretProps{Heading: "New SIP password",
		Intro: "The password of " + c.Username + " was replaced; the old one no longer works. Update your phones with this one.",
		Label: "Password", Secret: password, BackURL: acctURL(aa, "interconnection"), BackLabel: "Back to Interconnection"})
}

func (s *Server) credentialDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if err := s.db.DeleteSIPCredential(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.icDone(w, r, "The credential was deleted.")
}

// routeInput validates the fields of a route form.
func routeInput(in map[string]string) (name, target string, errs portal.FieldErrors) {
	errs = portal.FieldErrors{}
	name, err := portal.CleanText("name", "Name", in["name"], true, 60)
	errs.AddErr("name", err)
	t, err := portal.ParseSIPTarget("target", in["target"])
	errs.AddErr("target", err)
	return name, t.String(), errs
}

func (s *Server) routeAdd(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "name", "target")
	if !ok {
		return
	}
	again := func(f web.Form) {
		s.renderInterconnection(w, r, http.StatusUnprocessableEntity, icForms{web.NewForm(), web.NewForm(), f})
	}
	name, target, errs := routeInput(in)
	if len(errs) > 0 {
		again(formFrom(in, errs))
		return
	}
	if _, err := s.db.AddInboundRoute(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, name, target); err != nil {
		s.icFailed(w, r, err, in, "name", again)
		return
	}
	s.icDone(w, r, "Added route "+name+".")
}

func (s *Server) routeUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	in, ok := parseForm(w, r, "name", "target")
	if !ok {
		return
	}
	again := func(f web.Form) { s.icEdit(w, r, http.StatusUnprocessableEntity, "routes", id, &f) }
	name, target, errs := routeInput(in)
	if len(errs) > 0 {
		again(formFrom(in, errs))
		return
	}
	if err := s.db.UpdateInboundRoute(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, id, name, target); err != nil {
		s.icFailed(w, r, err, in, "name", again)
		return
	}
	s.icDone(w, r, "Saved route "+name+".")
}

func (s *Server) routeDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.notFound(w, r)
		return
	}
	if _, ok := parseForm(w, r); !ok {
		return
	}
	if err := s.db.DeleteInboundRoute(r.Context(), s.actor(r), accessFrom(r.Context()).Account.ID, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.icDone(w, r, "The route was deleted.")
}
