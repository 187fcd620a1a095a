package mail

import (
	"context"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPSender sends messages through an SMTP server.
type SMTPSender struct {
	host     string
	port     int
	username string
	password string
	from     string
	ssl      bool
	policy   gomail.TLSPolicy
	loopback bool
	// Timeout bounds one delivery, from dialling to QUIT.
	Timeout time.Duration
}

// NewSMTPSender configures SMTP delivery from a URL:
//
//	smtp://user:pass@host:port    STARTTLS (port 587 by default)
//	smtps://user:pass@host:port   implicit TLS (port 465 by default)
//
// STARTTLS is mandatory unless the host is a loopback address, where it is
// used when offered, so a local test server without TLS works; on loopback,
// ?tls=none turns it off altogether. from is the From address of every
// message.
func NewSMTPSender(rawURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp url: %w", err)
	}
	s := &SMTPSender{host: u.Hostname(), Timeout: 20 * time.Second}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, fmt.Errorf("mail: smtp url: scheme %q, want smtp or smtps", u.Scheme)
	}
	if s.host == "" {
		return nil, fmt.Errorf("mail: smtp url: no host")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("mail: smtp url: bad port %q", p)
		}
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.loopback = isLoopback(s.host)
	s.policy = gomail.TLSMandatory
	if s.loopback {
		s.policy = gomail.TLSOpportunistic
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return nil, fmt.Errorf("mail: smtp url: unknown parameter %q", k)
		}
	}
	switch q.Get("tls") {
	case "":
	case "none":
		if !s.loopback || s.ssl {
			return nil, fmt.Errorf("mail: smtp url: tls=none is only allowed for smtp:// on a loopback host")
		}
		s.policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("mail: smtp url: tls=%q, want none", q.Get("tls"))
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", from, err)
	}
	s.from = addr.String()
	return s, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send delivers m on a connection of its own.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	// User text reaches go-mail only through its typed setters, which
	// validate addresses and encode header values, so a line break in a
	// subject cannot start a new header.
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecipient, err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(timeout), gomail.WithTLSPolicy(s.policy)}
	if s.ssl {
		opts = append(opts, gomail.WithSSL())
	}
	if s.username != "" {
		opts = append(opts, gomail.WithUsername(s.username), gomail.WithPassword(s.password))
		if s.loopback {
			// Plain credentials may cross the loopback interface unencrypted.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			// TLS is mandatory here, so the strongest offered mechanism is fine.
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover))
		}
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s:%d: %w", s.host, s.port, err)
	}
	return nil
}
