package server

import (
	"net/http"
	"strings"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// profileFields are the fields of the customer information form.
var profileFields = []string{"company_name", "company_alias", "contact_name", "contact_email", "address_line1", "address_line2",
	"city", "region", "postal_code", "country"}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, status int, f *web.Form) {
	aa := accessFrom(r.Context())
	pr, err := s.db.Profile(r.Context(), aa.Account.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.ProfileProps{Base: acctURL(aa, ""), TechPrefix: aa.Account.TechPrefix, PendingEmail: pr.PendingContactEmail,
		CanEdit: aa.Can(portal.ActionEditCustomerInfo), Form: web.NewForm()}
	v := p.Form.Values
	v["company_name"], v["company_alias"], v["contact_name"], v["contact_email"] = pr.CompanyName, pr.CompanyAlias, pr.ContactName, pr.ContactEmail
	v["address_line1"], v["address_line2"], v["city"] = pr.Address1, pr.Address2, pr.City
	v["region"], v["postal_code"], v["country"] = pr.Region, pr.PostalCode, pr.Country
	if f != nil {
		p.Form = *f
	}
	s.render(w, r, status, web.ProfilePage(s.chrome(r, "Customer information"), p))
}

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request) {
	s.renderProfile(w, r, http.StatusOK, nil)
}

func (s *Server) saveProfile(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, profileFields...)
	if !ok {
		return
	}
	aa := accessFrom(r.Context())
	errs := portal.FieldErrors{}
	var p postgres.Profile
	var err error
	p.CompanyName, err = portal.CleanName("company_name", "Company name", in["company_name"])
	errs.AddErr("company_name", err)
	p.CompanyAlias, err = portal.CleanText("company_alias", "Company alias", in["company_alias"], false, 40)
	if err == nil && strings.ContainsAny(p.CompanyAlias, "<>") {
		err = portal.FieldError("company_alias", "Company alias cannot contain < or >.")
	}
	errs.AddErr("company_alias", err)
	p.ContactName, err = portal.CleanText("contact_name", "Primary contact", in["contact_name"], false, 100)
	errs.AddErr("contact_name", err)
	p.ContactEmail, err = portal.CleanEmail("contact_email", in["contact_email"])
	errs.AddErr("contact_email", err)
	p.Address1, p.Address2, p.City, p.Region, p.PostalCode, p.Country = addressInput(in, errs)
	if len(errs) > 0 {
		f := formFrom(in, errs)
		s.renderProfile(w, r, http.StatusUnprocessableEntity, &f)
		return
	}
	changing := !strings.EqualFold(p.ContactEmail, aa.Account.ContactEmail)
	if changing && (!s.allow(w, r, limitMailIP, s.clientIP(r)) || !s.allow(w, r, limitMailAddress, p.ContactEmail)) {
		return
	}
	sent, err := s.db.UpdateProfile(r.Context(), s.actor(r), aa.Account.ID, p)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if sent {
		s.setFlash(w, "info", "Customer information saved. We sent a confirmation link to "+p.ContactEmail+
			"; the contact email changes when it is opened.")
	} else {
		s.setFlash(w, "ok", "Customer information saved.")
	}
	redirect(w, r, acctURL(aa, "profile"))
}

// showContactEmail describes a contact email link on its confirmation page.
func (s *Server) showContactEmail(r *http.Request, t *portal.Token) (web.ConfirmProps, error) {
	company, prefix, err := s.db.ContactEmailChange(r.Context(), t)
	if err != nil {
		return web.ConfirmProps{}, err
	}
	return web.ConfirmProps{Heading: "Confirm the new contact email",
		Message: "Make " + t.Email + " the contact email of " + company + " (" + prefix + "). Account links, activations and notices will be sent to it.",
		Button:  "Confirm contact email"}, nil
}

// redeemContactEmail makes the confirmed address the account's contact
// email. The link proves the address; whoever opens it need not have a
// login.
func (s *Server) redeemContactEmail(w http.ResponseWriter, r *http.Request, raw string, _ web.ConfirmProps) {
	if _, err := s.db.ConfirmContactEmail(r.Context(), s.actor(r), raw); err != nil {
		s.redeemFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CheckEmailPage(s.chrome(r, "Contact email confirmed"), "Contact email confirmed",
		"This address is now the contact email of the account. You can close this page."))
}
