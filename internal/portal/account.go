package portal

import "time"

// Account statuses.
const (
	StatusPendingActivation = "pending_activation"
	StatusActive            = "active"
	StatusSuspended         = "suspended"
	StatusClosed            = "closed"
)

// StatusLabel returns the wording users see for an account status.
func StatusLabel(s string) string {
	switch s {
	case StatusPendingActivation:
		return "Pending activation"
	case StatusActive:
		return "Active"
	case StatusSuspended:
		return "Suspended"
	case StatusClosed:
		return "Closed"
	}
	return s
}

// Account is a customer account: the tenant every resource belongs to.
type Account struct {
	ID           int64
	TechPrefix   string
	CompanyName  string
	CompanyAlias string
	ContactEmail string
	Status       string
	ParentID     *int64
	CreatedAt    time.Time
}

// RootID returns the id of the account's family root.
func (a *Account) RootID() int64 {
	if a.ParentID != nil {
		return *a.ParentID
	}
	return a.ID
}

// User is a customer login.
type User struct {
	ID              int64
	Email           string
	FullName        string
	PasswordHash    string
	EmailVerifiedAt *time.Time
	SessionEpoch    int64
	LastLoginAt     *time.Time
	CreatedAt       time.Time
}

// Verified reports whether the user confirmed their email address.
func (u *User) Verified() bool { return u.EmailVerifiedAt != nil }

// Staff is a carrier staff user; a separate realm from customers.
type Staff struct {
	ID           int64
	Email        string
	FullName     string
	PasswordHash string
}

// Token purposes: each email link is bound to one.
const (
	PurposeVerifyEmail     = "verify_email"
	PurposeChangeEmail     = "change_email"
	PurposeLinkAccount     = "link_account"
	PurposeActivateAccount = "activate_account"
	PurposeAcceptInvite    = "accept_invite"
	PurposeResetPassword   = "reset_password"
	// PurposeContactEmail confirms a new contact email address of an
	// account (customer info): the address other flows send to.
	PurposeContactEmail = "contact_email"
)

// Token lifetimes, documented in the README.
const (
	VerifyEmailTTL   = 48 * time.Hour
	ResetPasswordTTL = time.Hour
	LinkAccountTTL   = 72 * time.Hour
	ActivateTTL      = 7 * 24 * time.Hour
	InviteTTL        = 7 * 24 * time.Hour
)

// Token is a redeemed verification token.
type Token struct {
	ID      int64
	Purpose string
	Subject string
	Email   string
	Payload map[string]any
}

// Actor is who performs a request, carried into every store call that
// touches tenant data.
type Actor struct {
	UserID    int64
	StaffID   int64
	IP        string
	RequestID string
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	Action    string
	AccountID int64
	Target    string
	Outcome   string
	Details   map[string]any
}
