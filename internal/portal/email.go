package portal

// Email describes a message to send: which template, to whom, and the values
// it shows. Link, when set, is the one call-to-action URL of the message.
type Email struct {
	Template string            `json:"template"`
	To       string            `json:"to"`
	Vars     map[string]string `json:"vars,omitempty"`
	Link     string            `json:"link,omitempty"`
}

// Email templates.
const (
	MailVerifyEmail     = "verify_email"
	MailSignupExists    = "signup_exists"
	MailResetPassword   = "reset_password"
	MailPasswordChanged = "password_changed"
	MailChangeEmail     = "change_email"
	MailEmailChanged    = "email_changed"
	MailFeatureDecision = "feature_decision"
	MailLinkAccount     = "link_account"
	MailLinked          = "linked"
	MailUnlinked        = "unlinked"
	MailActivateAccount = "activate_account"
	MailInvite          = "invite"
	MailInviteAccepted  = "invite_accepted"
	MailRevoked         = "revoked"
	MailRestored        = "restored"
	MailNotice          = "notice"
)
