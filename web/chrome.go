package web

import "github.com/a-h/templ"

// Chrome is what every page's frame shows: the header bar, the menu and the
// flash message. Handlers fill it; pages only add their content.
type Chrome struct {
	Title   string
	User    *UserChrome
	Account *AccountChrome
	Nav     []NavItem
	// Picker is the account picker beside the account name, when the
	// family has the Sub-Accounts feature.
	Picker    templ.Component
	Flash     *Flash
	RequestID string
	// Staff marks the staff console, which has its own header.
	Staff     bool
	StaffName string
	// DevMailbox shows the development mailbox link.
	DevMailbox bool
}

// UserChrome is the signed-in user in the header.
type UserChrome struct {
	Name  string
	Email string
}

// AccountChrome is the active account in the header bar.
type AccountChrome struct {
	TechPrefix string
	Company    string
	Alias      string
	Status     string
}

// NavItem is one entry of the left-hand menu; an item with no Href is a
// group heading.
type NavItem struct {
	Label  string
	Href   string
	Active bool
	TestID string
}

// Flash is a one-time message shown at the top of a page.
type Flash struct {
	Kind    string // ok, error, info
	Message string
}

// Form is the state of a submitted form: what was typed, and what was wrong.
type Form struct {
	Values map[string]string
	Errors map[string]string
}

// NewForm returns an empty form.
func NewForm() Form { return Form{Values: map[string]string{}, Errors: map[string]string{}} }

// V returns the submitted value of a field.
func (f Form) V(name string) string { return f.Values[name] }

// E returns the error message of a field.
func (f Form) E(name string) string { return f.Errors[name] }

// HasErrors reports whether any field is invalid.
func (f Form) HasErrors() bool { return len(f.Errors) > 0 }
