package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/a-h/templ"

	"carrierportal/internal/portal"
	"carrierportal/web"
)

// pageBuffers hold pages while they render.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage is the largest buffer kept for the next page.
const maxPooledPage = 1 << 20

// render writes a templ component with a status code. The page is rendered
// whole before anything is sent: it goes out with its length in one write
// (a page written as it renders leaves in small chunks, a system call
// each), and a page that fails to render becomes a clean error page
// instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledPage {
			buf.Reset()
			pageBuffers.Put(buf)
		}
	}()
	buf.Reset()
	if err := c.Render(r.Context(), buf); err != nil {
		s.log.Error("render", "request_id", requestIDFrom(r.Context()), "err", err)
		if status < http.StatusInternalServerError {
			s.renderStatus(w, r, http.StatusInternalServerError)
			return
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// chrome builds the page frame for the current request.
func (s *Server) chrome(r *http.Request, title string) web.Chrome {
	c := web.Chrome{Title: title, RequestID: requestIDFrom(r.Context()), DevMailbox: s.cfg.Development()}
	if u := userFrom(r.Context()); u != nil {
		c.User = &web.UserChrome{Name: u.FullName, Email: u.Email}
	}
	if aa := accessFrom(r.Context()); aa != nil {
		c.Account = &web.AccountChrome{TechPrefix: aa.Account.TechPrefix, Company: aa.Account.CompanyName,
			Alias: aa.Account.CompanyAlias, Status: aa.Account.Status}
		c.Nav = s.nav(r, aa)
		c.Picker = s.pickerFor(r, aa)
	}
	c.Flash = s.popFlash(w0(r), r)
	return c
}

// statusText maps an HTTP status to the wording of its error page.
func statusText(status int) (string, string) {
	switch status {
	case http.StatusNotFound:
		return "Page not found", "The page you asked for does not exist, or you do not have access to it."
	case http.StatusForbidden:
		return "Not allowed", "You do not have permission to do that."
	case http.StatusTooManyRequests:
		return "Too many requests", "You have made too many attempts. Please wait a few minutes and try again."
	case http.StatusBadRequest:
		return "Bad request", "The request could not be understood."
	case http.StatusRequestEntityTooLarge:
		return "Request too large", "The request was too large."
	case http.StatusMethodNotAllowed:
		return "Not allowed", "That method is not allowed here."
	}
	return "Something went wrong", "An unexpected error occurred on our side. Please try again; if it keeps happening, contact support with the request ID below."
}

// renderStatus renders the generic error page for a status.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int) {
	heading, msg := statusText(status)
	s.render(w, r, status, web.ErrorPage(s.chrome(r, heading), status, heading, msg))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderStatus(w, r, http.StatusNotFound)
}

// serverError logs err with the request id and shows the generic 500 page.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("server error", "request_id", requestIDFrom(r.Context()), "method", r.Method, "path", logPath(r.URL.Path), "err", err)
	s.renderStatus(w, r, http.StatusInternalServerError)
}

// renderError maps a domain error to its status, in one place.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	switch portal.ErrorCode(err) {
	case portal.ENOTFOUND:
		s.notFound(w, r)
	case portal.EFORBIDDEN, portal.EUNAUTHORIZED:
		s.renderStatus(w, r, http.StatusForbidden)
	case portal.ERATELIMIT:
		s.renderStatus(w, r, http.StatusTooManyRequests)
	case portal.EINVALID, portal.ECONFLICT:
		heading := "That did not work"
		s.render(w, r, http.StatusUnprocessableEntity, web.ErrorPage(s.chrome(r, heading), 422, heading, portal.ErrorMessage(err)))
	default:
		s.serverError(w, r, err)
	}
}

// parseForm reads a POSTed form and keeps only the allowed fields (no mass
// assignment). Values are kept as typed, for validation; display copies are
// made safe by formValues.
func parseForm(w http.ResponseWriter, r *http.Request, allowed ...string) (map[string]string, bool) {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	n := 0
	for _, vs := range r.PostForm {
		n += len(vs)
	}
	if n > 200 {
		http.Error(w, "too many fields", http.StatusBadRequest)
		return nil, false
	}
	out := make(map[string]string, len(allowed))
	for _, k := range allowed {
		out[k] = r.PostForm.Get(k)
	}
	return out, true
}

// formFrom makes a web.Form that shows back what was typed (passwords never)
// with invalid bytes replaced, so a re-rendered form keeps the user's input.
func formFrom(values map[string]string, errs portal.FieldErrors) web.Form {
	f := web.NewForm()
	for k, v := range values {
		if strings.Contains(k, "password") {
			continue
		}
		v = strings.ToValidUTF8(v, "\uFFFD")
		v = strings.ReplaceAll(v, "\x00", "")
		if utf8.RuneCountInString(v) > 1000 {
			v = string([]rune(v)[:1000])
		}
		f.Values[k] = v
	}
	for k, v := range errs {
		f.Errors[k] = v
	}
	return f
}

// Flash messages live in a signed cookie rather than the session, so showing
// one does not write to the session store.
const flashCookie = "portal_flash"

func (s *Server) flashMAC(v string) string {
	m := hmac.New(sha256.New, []byte("flash:"+s.cfg.Secret))
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setFlash queues a message for the next page the user sees.
func (s *Server) setFlash(w http.ResponseWriter, kind, msg string) {
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + msg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v + "." + s.flashMAC(v), Path: "/", HttpOnly: true,
		Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

type respWriterKey struct{}

// w0 finds the response writer stashed for popFlash.
func w0(r *http.Request) http.ResponseWriter {
	w, _ := r.Context().Value(respWriterKey{}).(http.ResponseWriter)
	return w
}

// keepWriter stashes the response writer so page builders can clear the
// flash cookie they consumed.
func keepWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), respWriterKey{}, w)))
	})
}

func (s *Server) popFlash(w http.ResponseWriter, r *http.Request) *web.Flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	if w != nil {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	}
	v, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.flashMAC(v))) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	kind, msg, _ := strings.Cut(string(b), "|")
	return &web.Flash{Kind: kind, Message: msg}
}

// redirect sends the browser on with a 303 after a POST.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
