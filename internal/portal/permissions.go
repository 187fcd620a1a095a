package portal

// Role is a user's type on one account. The zero value means no access.
type Role int

// The roles, ordered: a higher role can do everything a lower one can.
const (
	RoleNone Role = iota
	RoleGeneral
	RolePower
	RolePrincipal
)

// ParseRole maps the database and form spelling of a role to a Role.
func ParseRole(s string) (Role, bool) {
	switch s {
	case "general":
		return RoleGeneral, true
	case "power":
		return RolePower, true
	case "principal":
		return RolePrincipal, true
	case "", "none":
		return RoleNone, true
	}
	return RoleNone, false
}

// String returns the database spelling of r.
func (r Role) String() string {
	switch r {
	case RoleGeneral:
		return "general"
	case RolePower:
		return "power"
	case RolePrincipal:
		return "principal"
	}
	return "none"
}

// Label returns the name users see for r.
func (r Role) Label() string {
	switch r {
	case RoleGeneral:
		return "General"
	case RolePower:
		return "Power"
	case RolePrincipal:
		return "Principal"
	}
	return "No access"
}

// Feature is an opt-in capability reviewed by staff.
type Feature string

// The features a family can opt in to.
const (
	FeatureSubAccounts Feature = "sub_accounts"
	FeatureMultiUser   Feature = "multi_user"
)

// Features lists every feature in display order.
var Features = []Feature{FeatureSubAccounts, FeatureMultiUser}

// ParseFeature validates the URL and form spelling of a feature.
func ParseFeature(s string) (Feature, bool) {
	for _, f := range Features {
		if string(f) == s {
			return f, true
		}
	}
	return "", false
}

// Label returns the feature's product name.
func (f Feature) Label() string {
	switch f {
	case FeatureSubAccounts:
		return "Sub-Accounts"
	case FeatureMultiUser:
		return "Multi-User"
	}
	return string(f)
}

// Action names what a route does; every route declares exactly one.
type Action string

// Actions outside an account.
const (
	// ActionPublic is for pages anyone may open (sign-in, sign-up, email links).
	ActionPublic Action = "public"
	// ActionSignedIn is for pages any signed-in customer may open.
	ActionSignedIn Action = "signed_in"
	// ActionStaff is for the carrier staff console.
	ActionStaff Action = "staff"
)

// Actions on one account, governed by the permission table.
const (
	ActionViewAccount         Action = "view_account"
	ActionEditInterconnection Action = "edit_interconnection"
	ActionManageDIDs          Action = "manage_dids"
	ActionEditCustomerInfo    Action = "edit_customer_info"
	ActionEditBilling         Action = "edit_billing"
	ActionRequestFeature      Action = "request_feature"
	ActionManageAPIKeys       Action = "manage_api_keys"
	ActionViewSummary         Action = "view_summary"
	ActionManageSubAccounts   Action = "manage_sub_accounts"
	ActionManageUsers         Action = "manage_users"
	ActionViewAudit           Action = "view_audit"
)

// Permission is one row of the permission matrix (DESIGN.md §4).
type Permission struct {
	// MinRole is the lowest role that may perform the action.
	MinRole Role
	// Feature, when set, must be enabled for the account's family.
	Feature Feature
	// RootOnly restricts the action to the family's root account.
	RootOnly bool
}

// Permissions is the permission matrix: the one place that says which role
// may do what. Routes name an Action; the server looks it up here.
var Permissions = map[Action]Permission{
	ActionViewAccount:         {MinRole: RoleGeneral},
	ActionEditInterconnection: {MinRole: RoleGeneral},
	ActionManageDIDs:          {MinRole: RoleGeneral},
	ActionEditCustomerInfo:    {MinRole: RolePower},
	ActionEditBilling:         {MinRole: RolePower},
	ActionRequestFeature:      {MinRole: RolePower},
	ActionManageAPIKeys:       {MinRole: RolePower},
	ActionViewSummary:         {MinRole: RolePower, Feature: FeatureSubAccounts},
	ActionManageSubAccounts:   {MinRole: RolePrincipal, Feature: FeatureSubAccounts, RootOnly: true},
	ActionManageUsers:         {MinRole: RolePrincipal, Feature: FeatureMultiUser},
	ActionViewAudit:           {MinRole: RolePrincipal},
}

// AccountAccess is what an account-scoped request knows about the caller's
// standing on the account: read from the database on every request.
type AccountAccess struct {
	Role     Role
	IsRoot   bool
	Features map[Feature]bool
}

// Decision is the outcome of an authorization check.
type Decision int

// Decisions. DenyHidden means the caller must not learn the target exists.
const (
	Allow Decision = iota
	Deny
	DenyHidden
)

// Authorize checks access against the permission table. Unknown actions and
// missing features deny, so a mistake fails closed. A feature the family lacks
// hides the route (404), as if it did not exist.
func Authorize(action Action, a AccountAccess) Decision {
	if a.Role == RoleNone {
		return DenyHidden
	}
	p, ok := Permissions[action]
	if !ok {
		return Deny
	}
	if p.Feature != "" && !a.Features[p.Feature] {
		return DenyHidden
	}
	if p.RootOnly && !a.IsRoot {
		return DenyHidden
	}
	if a.Role < p.MinRole {
		return Deny
	}
	return Allow
}

// Can reports whether a is allowed to perform action; templates use it to
// show only what leads somewhere.
func (a AccountAccess) Can(action Action) bool { return Authorize(action, a) == Allow }
