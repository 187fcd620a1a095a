package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"carrierportal/internal/portal"
	"carrierportal/internal/postgres"
	"carrierportal/web"
)

// limitFunds bounds card payments per account: a stolen session cannot test
// a pile of card numbers.
var limitFunds = limit{"funds", 10, time.Hour}

// processor is the card processor. Only the development processor exists;
// it accepts test cards, which in production would be free money, so there
// Add funds is unavailable until a real processor is plugged in here.
func (s *Server) processor() portal.PaymentProcessor {
	if s.cfg.Production() {
		return nil
	}
	return portal.DevProcessor{}
}

// newIdempotencyKey marks one rendering of the Add funds form, so that
// submitting it twice pays once.
func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validIdempotencyKey(k string) bool {
	if len(k) != 32 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil
}

// monthParam reads ?month=YYYY-MM; the current month otherwise.
func monthParam(v string, now time.Time) time.Time {
	if t, err := time.Parse("2006-01", v); err == nil && t.Year() >= 2000 && t.Year() <= 2100 {
		return t
	}
	return postgres.MonthStart(now)
}

func (s *Server) renderBilling(w http.ResponseWriter, r *http.Request, status int, month time.Time, funds web.Form) {
	aa := accessFrom(r.Context())
	ctx := r.Context()
	bl, err := s.db.Billing(ctx, aa.Account.ID, month)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.BillingProps{Base: acctURL(aa, ""), Balance: bl.Balance, Month: bl.Month, MonthValue: bl.Month.Format("2006-01"),
		MonthTotal: bl.MonthTotal, CanEdit: aa.Can(portal.ActionEditBilling), Funds: funds}
	months := bl.Months
	if cur := postgres.MonthStart(time.Now()); len(months) == 0 || months[0].Before(cur) {
		months = append([]time.Time{cur}, months...)
	}
	seen := false
	for _, m := range months {
		seen = seen || m.Equal(bl.Month)
		p.Months = append(p.Months, web.Choice{Value: m.Format("2006-01"), Label: m.Format("January 2006")})
	}
	if !seen {
		p.Months = append(p.Months, web.Choice{Value: p.MonthValue, Label: bl.Month.Format("January 2006")})
	}
	for _, c := range bl.Categories {
		p.Categories = append(p.Categories, web.CategoryRow{Label: postgres.CategoryLabel(c.Category), Amount: c.Amount, Lines: c.Lines})
	}
	for _, c := range bl.Charges {
		p.Charges = append(p.Charges, web.ChargeRow{At: c.OccurredAt, Category: postgres.CategoryLabel(c.Category), Description: c.Description, Amount: c.Amount})
	}
	for _, pay := range bl.Payments {
		p.Payments = append(p.Payments, paymentRow(pay))
	}
	if p.CanEdit {
		bi, err := s.db.BillingInfo(ctx, aa.Account.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.SavedCard = bi.Card.Masked()
		if p.Funds.Values["idempotency_key"] == "" {
			p.Funds.Values["idempotency_key"] = newIdempotencyKey()
		}
	}
	s.render(w, r, status, web.BillingPage(s.chrome(r, "Billing"), p))
}

func paymentRow(p postgres.Payment) web.PaymentRow {
	return web.PaymentRow{At: p.CreatedAt, Amount: p.Amount, Method: p.MethodLabel(), Status: p.Status, Failure: p.Failure, By: p.CreatedBy}
}

func (s *Server) billingPage(w http.ResponseWriter, r *http.Request) {
	s.renderBilling(w, r, http.StatusOK, monthParam(r.URL.Query().Get("month"), time.Now()), web.NewForm())
}

// cardInput validates the card fields of a form.
func cardInput(in map[string]string, errs portal.FieldErrors) portal.Card {
	var c portal.Card
	var err error
	c.Number, err = portal.CleanCardNumber("card_number", in["card_number"])
	errs.AddErr("card_number", err)
	c.ExpMonth, c.ExpYear, err = portal.ParseExpiry("card_exp", in["card_exp"])
	errs.AddErr("card_exp", err)
	c.CVC, err = portal.CleanCVC("card_cvc", in["card_cvc"])
	errs.AddErr("card_cvc", err)
	return c
}

// addFunds takes a card payment: recorded as pending, charged through the
// processor, then settled, so a payment is never taken without a record.
func (s *Server) addFunds(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, "amount", "pay_with", "card_number", "card_exp", "card_cvc", "idempotency_key")
	if !ok {
		return
	}
	aa := accessFrom(r.Context())
	ctx := r.Context()
	month := postgres.MonthStart(time.Now())
	fail := func(errs portal.FieldErrors) {
		in["card_number"], in["card_cvc"] = "", ""
		f := formFrom(in, errs)
		f.Values["idempotency_key"] = newIdempotencyKey()
		s.renderBilling(w, r, http.StatusUnprocessableEntity, month, f)
	}
	errs := portal.FieldErrors{}
	amount, err := portal.ParseMoney("amount", in["amount"], portal.MoneyOptions{})
	if !errs.AddErr("amount", err) {
		errs.AddErr("amount", portal.CheckFunds("amount", amount))
	}
	req := portal.ChargeRequest{AccountID: aa.Account.ID, Amount: amount}
	if in["pay_with"] == "saved" {
		bi, err := s.db.BillingInfo(ctx, aa.Account.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if bi.Card.Ref == "" {
			errs.Add("pay_with", "There is no card on file: enter a card.")
		}
		req.CardRef = bi.Card.Ref
	} else {
		c := cardInput(in, errs)
		req.Card = &c
	}
	if !validIdempotencyKey(in["idempotency_key"]) {
		errs.Add("_form", "The form has expired. Please check the details and submit it again.")
	}
	if len(errs) > 0 {
		fail(errs)
		return
	}
	proc := s.processor()
	if proc == nil {
		fail(portal.FieldErrors{"_form": "Card payments are not available right now. Please contact support to add funds."})
		return
	}
	if !s.allow(w, r, limitFunds, aa.Account.TechPrefix) {
		return
	}
	actor := s.actor(r)
	id, err := s.db.StartPayment(ctx, actor, aa.Account.ID, amount, in["idempotency_key"])
	if portal.ErrorCode(err) == portal.ECONFLICT {
		s.setFlash(w, "info", "That payment was already submitted; it was not taken twice.")
		redirect(w, r, acctURL(aa, "billing"))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	req.IdempotencyKey = aa.Account.TechPrefix + ":" + in["idempotency_key"]
	receipt, cerr := proc.Charge(ctx, req)
	// The outcome is recorded even if the browser has gone away meanwhile.
	settle := context.WithoutCancel(ctx)
	if cerr != nil {
		msg := "The payment could not be processed."
		if portal.ErrorCode(cerr) == portal.EINVALID {
			msg = portal.ErrorMessage(cerr)
		}
		if err := s.db.FinishPayment(settle, actor, aa.Account.ID, id, nil, msg); err != nil {
			s.serverError(w, r, err)
			return
		}
		if portal.ErrorCode(cerr) != portal.EINVALID {
			s.serverError(w, r, cerr)
			return
		}
		errs.AddErr("card_number", cerr)
		fail(errs)
		return
	}
	if err := s.db.FinishPayment(settle, actor, aa.Account.ID, id, &receipt, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Thank you: "+portal.FormatMoney(amount)+" was added to your balance.")
	redirect(w, r, acctURL(aa, "billing"))
}

// billingInfoFields are the fields of the billing info form.
var billingInfoFields = []string{"contact_name", "contact_email", "address_line1", "address_line2", "city", "region",
	"postal_code", "country", "tax_id", "card_number", "card_exp", "card_cvc"}

func (s *Server) renderBillingInfo(w http.ResponseWriter, r *http.Request, status int, f *web.Form) {
	aa := accessFrom(r.Context())
	bi, err := s.db.BillingInfo(r.Context(), aa.Account.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := web.BillingInfoProps{Base: acctURL(aa, ""), Card: bi.Card.Masked(), CanEdit: aa.Can(portal.ActionEditBilling), Form: web.NewForm()}
	if bi.Card.ExpMonth > 0 {
		p.CardExp = strconv.Itoa(bi.Card.ExpMonth) + "/" + strconv.Itoa(bi.Card.ExpYear)
	}
	v := p.Form.Values
	v["contact_name"], v["contact_email"], v["tax_id"] = bi.ContactName, bi.ContactEmail, bi.TaxID
	v["address_line1"], v["address_line2"], v["city"] = bi.Address1, bi.Address2, bi.City
	v["region"], v["postal_code"], v["country"] = bi.Region, bi.PostalCode, bi.Country
	if f != nil {
		p.Form = *f
	}
	s.render(w, r, status, web.BillingInfoPage(s.chrome(r, "Billing info"), p))
}

func (s *Server) billingInfoPage(w http.ResponseWriter, r *http.Request) {
	s.renderBillingInfo(w, r, http.StatusOK, nil)
}

// addressInput validates the postal address fields shared by customer and
// billing info.
func addressInput(in map[string]string, errs portal.FieldErrors) (a1, a2, city, region, postal, country string) {
	text := func(field, label string, max int) string {
		v, err := portal.CleanText(field, label, in[field], false, max)
		errs.AddErr(field, err)
		return v
	}
	a1 = text("address_line1", "Address", 100)
	a2 = text("address_line2", "Address line 2", 100)
	city = text("city", "City", 100)
	region = text("region", "State or region", 100)
	postal = text("postal_code", "Postal code", 20)
	country = strings.ToUpper(strings.TrimSpace(in["country"]))
	if country != "" && !portal.ValidCountry(country) {
		errs.Add("country", "Enter a two-letter country code, like US or GB.")
	}
	return
}

func (s *Server) saveBillingInfo(w http.ResponseWriter, r *http.Request) {
	in, ok := parseForm(w, r, billingInfoFields...)
	if !ok {
		return
	}
	aa := accessFrom(r.Context())
	errs := portal.FieldErrors{}
	var bi postgres.BillingInfo
	var err error
	bi.ContactName, err = portal.CleanName("contact_name", "Name", in["contact_name"])
	errs.AddErr("contact_name", err)
	bi.ContactEmail, err = portal.CleanEmail("contact_email", in["contact_email"])
	errs.AddErr("contact_email", err)
	bi.Address1, bi.Address2, bi.City, bi.Region, bi.PostalCode, bi.Country = addressInput(in, errs)
	bi.TaxID, err = portal.CleanText("tax_id", "Tax ID", in["tax_id"], false, 40)
	errs.AddErr("tax_id", err)
	var card *portal.Card
	if strings.TrimSpace(in["card_number"]+in["card_exp"]+in["card_cvc"]) != "" {
		c := cardInput(in, errs)
		card = &c
	}
	again := func(errs portal.FieldErrors) {
		in["card_number"], in["card_cvc"] = "", ""
		f := formFrom(in, errs)
		s.renderBillingInfo(w, r, http.StatusUnprocessableEntity, &f)
	}
	if len(errs) > 0 {
		again(errs)
		return
	}
	var saved *portal.CardOnFile
	if card != nil {
		proc := s.processor()
		if proc == nil {
			again(portal.FieldErrors{"card_number": "Cards cannot be saved right now. Please contact support."})
			return
		}
		c, err := proc.SaveCard(r.Context(), aa.Account.ID, *card)
		if portal.ErrorCode(err) == portal.EINVALID {
			errs.AddErr("card_number", err)
			again(errs)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		saved = &c
	}
	if err := s.db.SaveBillingInfo(r.Context(), s.actor(r), aa.Account.ID, bi, saved); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setFlash(w, "ok", "Billing info saved.")
	redirect(w, r, acctURL(aa, "billing/info"))
}
