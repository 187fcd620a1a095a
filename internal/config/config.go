// Package config reads the portal's configuration from environment
// variables, with safe defaults for development, and refuses an unsafe
// production configuration.
package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of one portal process.
type Config struct {
	Env             string // development, production or test
	Addr            string
	DatabaseURL     string
	BaseURL         string
	SMTPURL         string
	MailFrom        string
	Secret          string
	CookieSecure    bool
	TrustedProxies  []netip.Prefix
	IdleTimeout     time.Duration
	SessionLifetime time.Duration
	ReauthAfter     time.Duration
	DBMaxConns      int32
	EmailWorkers    int
	LogLevel        string
	// PageCache turns on the copies of pages, access and picker answers each
	// instance keeps (the session cache is always on).
	PageCache bool
}

// Development reports whether development conveniences (the dev mailbox,
// plain cookies, migrations at start) are on.
func (c *Config) Development() bool { return c.Env != "production" }

// Production reports whether the process runs in production mode.
func (c *Config) Production() bool { return c.Env == "production" }

// devSecret is only ever used outside production.
const devSecret = "development-secret-not-for-production-use-0000"

// Load reads the configuration from the environment.
func Load() (*Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup (os.LookupEnv in
// production, a map in tests).
func FromLookup(lookup func(string) (string, bool)) (*Config, error) {
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Env:         get("PORTAL_ENV", "development"),
		DatabaseURL: get("DATABASE_URL", ""),
		SMTPURL:     get("SMTP_URL", ""),
		MailFrom:    get("SMTP_FROM", "Carrier Portal <no-reply@portal.localhost>"),
		Secret:      get("PORTAL_SECRET", ""),
		LogLevel:    get("LOG_LEVEL", "info"),
	}
	switch c.Env {
	case "development", "production", "test":
	default:
		return nil, fmt.Errorf("config: PORTAL_ENV must be development, production or test, not %q", c.Env)
	}
	port := get("PORT", "8080")
	c.Addr = get("PORTAL_ADDR", ":"+port)
	c.BaseURL = strings.TrimRight(get("PORTAL_BASE_URL", "http://localhost:"+port), "/")
	var err error
	if c.CookieSecure, err = strconv.ParseBool(get("PORTAL_COOKIE_SECURE", strconv.FormatBool(c.Production()))); err != nil {
		return nil, fmt.Errorf("config: PORTAL_COOKIE_SECURE: %w", err)
	}
	if c.PageCache, err = strconv.ParseBool(get("PORTAL_PAGE_CACHE", "true")); err != nil {
		return nil, fmt.Errorf("config: PORTAL_PAGE_CACHE: %w", err)
	}
	durations := []struct {
		key string
		def string
		dst *time.Duration
	}{
		{"PORTAL_SESSION_IDLE", "30m", &c.IdleTimeout},
		{"PORTAL_SESSION_LIFETIME", "12h", &c.SessionLifetime},
		{"PORTAL_REAUTH_AFTER", "15m", &c.ReauthAfter},
	}
	for _, d := range durations {
		if *d.dst, err = time.ParseDuration(get(d.key, d.def)); err != nil || *d.dst <= 0 {
			return nil, fmt.Errorf("config: %s must be a positive duration like 30m", d.key)
		}
	}
	n, err := strconv.Atoi(get("PORTAL_DB_MAX_CONNS", "20"))
	if err != nil || n < 2 {
		return nil, fmt.Errorf("config: PORTAL_DB_MAX_CONNS must be an integer ≥ 2")
	}
	c.DBMaxConns = int32(n)
	if c.EmailWorkers, err = strconv.Atoi(get("PORTAL_EMAIL_WORKERS", "4")); err != nil || c.EmailWorkers < 1 {
		return nil, fmt.Errorf("config: PORTAL_EMAIL_WORKERS must be a positive integer")
	}
	for _, p := range strings.FieldsFunc(get("PORTAL_TRUSTED_PROXIES", ""), func(r rune) bool { return r == ',' || r == ' ' }) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("config: PORTAL_TRUSTED_PROXIES: %q is not an address or CIDR", p)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	if c.DatabaseURL == "" {
		return nil, fmt.Errorf("config: DATABASE_URL is required")
	}
	if c.Production() {
		if err := c.checkProduction(lookup); err != nil {
			return nil, err
		}
	} else if c.Secret == "" {
		c.Secret = devSecret
	}
	return c, nil
}

func (c *Config) checkProduction(lookup func(string) (string, bool)) error {
	if _, ok := lookup("PORTAL_BASE_URL"); !ok {
		return fmt.Errorf("config: production needs PORTAL_BASE_URL")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("config: PORTAL_BASE_URL must be an https URL in production")
	}
	if c.SMTPURL == "" {
		return fmt.Errorf("config: production needs SMTP_URL (smtp:// or smtps://)")
	}
	if su, err := url.Parse(c.SMTPURL); err != nil || (su.Scheme != "smtp" && su.Scheme != "smtps") {
		return fmt.Errorf("config: SMTP_URL must start with smtp:// or smtps://")
	}
	if len(c.Secret) < 32 || c.Secret == devSecret {
		return fmt.Errorf("config: production needs PORTAL_SECRET of at least 32 characters")
	}
	if !c.CookieSecure {
		return fmt.Errorf("config: production needs secure cookies (PORTAL_COOKIE_SECURE=true)")
	}
	return nil
}
