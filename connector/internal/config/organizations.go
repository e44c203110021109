package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// OrganizationsFileVar names the organisations file; its errors carry it as their Var.
const OrganizationsFileVar = "PARTOO_ORGANIZATIONS_FILE"

// Organization is one organisation of PARTOO_ORGANIZATIONS_FILE, validated, its secrets read.
type Organization struct {
	// Name is its stable name: the metrics label and the suffix of its own topics and
	// transactional id ([a-z0-9][a-z0-9-]{0,39}).
	Name              string
	APIKey            secret.Secret
	OrgID             int64 // 0: not given
	BusinessIDs       []string
	ConversationIDs   []int64
	RequestsPerMinute int     // PARTOO_REQUESTS_PER_MINUTE when not given; lowered by PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE
	BudgetReserve     float64 // PARTOO_BUDGET_RESERVE when not given
	WebhookSecret     secret.Secret
	// StateOwnerCheck is STATE_OWNER_CHECK for this organisation alone (adopt: one key
	// rotation); "" when not given (STATE_OWNER_CHECK).
	StateOwnerCheck string
	// OwnRequestsPerMinute is the rate of the entry (or PARTOO_REQUESTS_PER_MINUTE) before
	// PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: RequestsPerMinute is at most that ÷ KeySharers.
	OwnRequestsPerMinute int
	// KeySharers is how many organisations of the file use the same API key, itself included.
	KeySharers int
	// Env are the environment variables the entry names (api_key_env, webhook_secret_env):
	// ours to read, so not reported as unknown.
	Env []string
}

// organizationName is what a name may be: a metrics label and a topic suffix.
var organizationName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// reservedOrganizationNames would give an organisation (state topic <state topic>.<name>) a
// topic the connector uses for something else: what, by name.
var reservedOrganizationNames = map[string]string{
	"organizations": "the topic of the replicas' group",
	"signals":       "the signal topic of a one-organisation deployment",
	"lease":         "the lease topic of a one-organisation deployment",
}

// envName is what the name of a variable holding a secret may be: upper case, so that a key
// written there by mistake is never echoed in an error.
var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// organizationFields are the fields an entry may have, in the order the docs list them.
var organizationFields = []string{"name", "api_key_file", "api_key_env", "org_id", "business_ids",
	"conversation_ids", "requests_per_minute", "budget_reserve", "webhook_secret_file", "webhook_secret_env",
	"state_owner_check"}

// oneOrganizationVars are the variables of the one-organisation case: with the file, each is
// set per organisation instead.
var oneOrganizationVars = []struct{ name, field string }{
	{"PARTOO_API_KEY", "api_key_file or api_key_env"}, {"PARTOO_API_KEY_FILE", "api_key_file or api_key_env"},
	{"PARTOO_ORG_ID", "org_id"}, {"PARTOO_BUSINESS_IDS", "business_ids"},
	{"PARTOO_CONVERSATION_IDS", "conversation_ids"}, {"WEBHOOK_SECRET", "webhook_secret_file or webhook_secret_env"},
}

// refuseOneOrganizationVars reports each one-organisation variable set beside the file.
func (c *Config) refuseOneOrganizationVars() Errors {
	var errs Errors
	set := map[string]bool{"PARTOO_API_KEY": !c.PartooAPIKey.IsZero(), "PARTOO_API_KEY_FILE": c.PartooAPIKeyFile != "",
		"PARTOO_ORG_ID": c.PartooOrgID != 0, "PARTOO_BUSINESS_IDS": len(c.PartooBusinessIDs) > 0,
		"PARTOO_CONVERSATION_IDS": len(c.PartooConversationIDs) > 0, "WEBHOOK_SECRET": !c.WebhookSecret.IsZero()}
	for _, v := range oneOrganizationVars {
		if set[v.name] {
			errs = append(errs, &Error{Var: v.name, Problem: fmt.Sprintf("not read with %s: set it per organisation in the file (%s)", OrganizationsFileVar, v.field)})
		}
	}
	return errs
}

// loadOrganizations reads and validates PARTOO_ORGANIZATIONS_FILE into c.Organizations,
// reporting every problem of the file, one line each.
func (c *Config) loadOrganizations() Errors {
	bad := func(problem string) Errors { return Errors{{Var: OrganizationsFileVar, Problem: problem}} }
	data, err := os.ReadFile(c.PartooOrganizationsFile)
	if err != nil {
		return bad("cannot read the file: " + describeFileErr(err))
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return bad("neither YAML nor JSON: " + err.Error())
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil || top == nil {
		return bad("must be a mapping with an organizations list")
	}
	var errs Errors
	for _, k := range sortedKeys(top) {
		if k != "organizations" {
			errs = append(errs, bad(fmt.Sprintf("unknown field %q (the file has one: organizations)", k))...)
		}
	}
	var entries []map[string]json.RawMessage
	if raw, ok := top["organizations"]; !ok || json.Unmarshal(raw, &entries) != nil {
		return append(errs, bad("organizations: must be a list of organisations")...)
	}
	if len(entries) == 0 {
		return append(errs, bad("organizations: the list is empty")...)
	}
	v := orgValidator{c: c, names: map[string]string{}, orgIDs: map[int64]string{}, hooks: map[string]string{}}
	for i, e := range entries {
		o, oerrs := v.entry(i, e)
		errs = append(errs, oerrs...)
		c.Organizations = append(c.Organizations, o)
	}
	return errs
}

// orgValidator validates entries one by one, remembering what must be unique.
type orgValidator struct {
	c      *Config
	names  map[string]string // name → who has it
	orgIDs map[int64]string
	hooks  map[string]string // webhook secret → who has it
}

// entry validates the i-th entry e.
func (v *orgValidator) entry(i int, e map[string]json.RawMessage) (Organization, Errors) {
	o := Organization{RequestsPerMinute: v.c.PartooRequestsPerMinute, BudgetReserve: v.c.PartooBudgetReserve}
	var errs Errors
	_ = json.Unmarshal(e["name"], &o.Name)
	who := fmt.Sprintf("organizations[%d]", i)
	if o.Name != "" {
		who += fmt.Sprintf(" %q", o.Name)
	}
	bad := func(field, problem string) {
		errs = append(errs, &Error{Var: OrganizationsFileVar, Problem: who + ": " + field + ": " + problem})
	}
	for _, k := range sortedKeys(e) {
		if !contains(organizationFields, k) {
			bad(k, "unknown field (an entry has "+strings.Join(organizationFields, ", ")+"; never the key itself)")
		}
	}
	switch other, taken := v.names[o.Name]; {
	case e["name"] == nil || o.Name == "":
		bad("name", "required (a stable name: the metrics label and the suffix of the organisation's topics)")
	case !organizationName.MatchString(o.Name):
		bad("name", "must match [a-z0-9][a-z0-9-]{0,39} (it suffixes topic names and labels metrics)")
	case reservedOrganizationNames[o.Name] != "":
		bad("name", fmt.Sprintf("%q is reserved: <state topic>.%s is %s", o.Name, o.Name, reservedOrganizationNames[o.Name]))
	case taken:
		bad("name", "the name of "+other+" too: every organisation needs its own")
	default:
		v.names[o.Name] = who
	}
	o.APIKey = v.secretField(e, "api_key", true, &o.Env, bad)
	o.WebhookSecret = v.secretField(e, "webhook_secret", false, &o.Env, bad)
	if s := o.WebhookSecret.Reveal(); s != "" {
		if other, taken := v.hooks[s]; taken {
			bad("webhook_secret", "the same as "+other+"'s: a webhook must tell which organisation it is for")
		}
		v.hooks[s] = who
	}
	v.numbers(e, &o, who, bad)
	return o, errs
}

// numbers decodes the optional fields other than the secrets.
func (v *orgValidator) numbers(e map[string]json.RawMessage, o *Organization, who string, bad func(field, problem string)) {
	decode := func(field string, dst any, kind string) bool {
		raw, ok := e[field]
		if !ok || string(raw) == "null" {
			return false
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			bad(field, "must be "+kind)
			return false
		}
		return true
	}
	if decode("org_id", &o.OrgID, "an integer") {
		if other, taken := v.orgIDs[o.OrgID]; taken && o.OrgID > 0 {
			bad("org_id", fmt.Sprintf("%d is the org_id of %s too: one entry per organisation", o.OrgID, other))
		} else if o.OrgID <= 0 {
			bad("org_id", "must be a positive organisation id (or left out)")
		}
		v.orgIDs[o.OrgID] = who
	}
	if decode("state_owner_check", &o.StateOwnerCheck, "fail or adopt") && o.StateOwnerCheck != "fail" && o.StateOwnerCheck != "adopt" {
		bad("state_owner_check", "must be fail or adopt")
	}
	if decode("business_ids", &o.BusinessIDs, "a list of strings") {
		ids := o.BusinessIDs[:0]
		for _, id := range o.BusinessIDs {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		o.BusinessIDs = ids
	}
	if decode("conversation_ids", &o.ConversationIDs, "a list of integers") {
		for _, id := range o.ConversationIDs {
			if id <= 0 {
				bad("conversation_ids", "must be positive conversation ids")
				break
			}
		}
	}
	if decode("requests_per_minute", &o.RequestsPerMinute, "an integer") && o.RequestsPerMinute < 1 {
		bad("requests_per_minute", "must be at least 1")
	}
	if decode("budget_reserve", &o.BudgetReserve, "a number such as 0.1") && !(o.BudgetReserve >= 0 && o.BudgetReserve <= 0.9) {
		bad("budget_reserve", "must be between 0 and 0.9 (a share of the rate)")
	}
}

// secretField reads the secret <base>_file or <base>_env of an entry (at most one of them,
// exactly one when required); the names of variables it reads are added to env.
func (v *orgValidator) secretField(e map[string]json.RawMessage, base string, required bool, env *[]string, bad func(field, problem string)) secret.Secret {
	var file, name string
	fileSet := e[base+"_file"] != nil && json.Unmarshal(e[base+"_file"], &file) == nil && file != ""
	envSet := e[base+"_env"] != nil && json.Unmarshal(e[base+"_env"], &name) == nil && name != ""
	for _, f := range []string{base + "_file", base + "_env"} {
		var s string
		if raw, ok := e[f]; ok && (json.Unmarshal(raw, &s) != nil || s == "") {
			bad(f, "must be a non-empty string")
		}
	}
	switch {
	case fileSet && envSet:
		bad(base+"_file", "set together with "+base+"_env; set only one")
	case fileSet:
		b, err := os.ReadFile(file)
		switch {
		case err != nil && !strings.Contains(file, "/"):
			bad(base+"_file", "cannot read the file: a path is expected (never the secret itself)")
		case err != nil:
			bad(base+"_file", "cannot read "+file+": "+describeFileErr(err))
		case strings.TrimSpace(string(b)) == "":
			bad(base+"_file", file+" is empty")
		default:
			return secret.New(strings.TrimSpace(string(b)))
		}
	case envSet:
		*env = append(*env, name)
		if !envName.MatchString(name) {
			bad(base+"_env", "must name an environment variable (upper case, digits and _), never hold the secret itself")
		} else if s := strings.TrimSpace(os.Getenv(name)); s == "" {
			bad(base+"_env", name+" is not set")
		} else {
			return secret.New(s)
		}
	case required && e[base+"_file"] == nil && e[base+"_env"] == nil:
		bad(base+"_file", "required: "+base+"_file (a mounted Secret) or "+base+"_env (a variable holding it)")
	}
	return secret.Secret{}
}

// OrganizationEnv lists the environment variables the organisations file names (to leave
// out of the unknown-variable warnings).
func (c *Config) OrganizationEnv() []string {
	var out []string
	for _, o := range c.Organizations {
		out = append(out, o.Env...)
	}
	return out
}

// ForOrganization is the configuration of one organisation of the file: the one-organisation
// settings are the entry's, and the state topic (with its signal and lease topics), the
// table topics and the transactional id carry the organisation's name, so that organisations
// never share state, table rows or a writer. The events topic is shared.
func (c *Config) ForOrganization(o Organization) *Config {
	oc := *c
	oc.Organizations = nil
	oc.PartooAPIKey, oc.PartooAPIKeyFile, oc.PartooOrgID = o.APIKey, "", o.OrgID
	oc.PartooBusinessIDs, oc.PartooConversationIDs = o.BusinessIDs, o.ConversationIDs
	oc.PartooRequestsPerMinute, oc.PartooBudgetReserve = o.RequestsPerMinute, o.BudgetReserve
	oc.WebhookSecret = o.WebhookSecret
	if o.StateOwnerCheck != "" {
		oc.StateOwnerCheck = o.StateOwnerCheck
	}
	oc.KafkaTransactionalID = c.KafkaTransactionalID + "." + o.Name
	oc.KafkaStateTopic = c.KafkaStateTopic + "." + o.Name
	oc.KafkaMessagesTableTopic = c.KafkaMessagesTableTopic + "." + o.Name
	oc.KafkaConversationsTableTopic = c.KafkaConversationsTableTopic + "." + o.Name
	return &oc
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ReloadOrganizations reads PARTOO_ORGANIZATIONS_FILE (and the key and secret files it
// names) again: the configuration it returns is c with the file's organisations of now, or
// the file's problems, one line each, with c unchanged. Organisations are validated as at
// the start, and a shared key's limit is split over the organisations that share it now.
func (c *Config) ReloadOrganizations() (*Config, error) {
	nc := *c
	nc.Organizations = nil
	errs := nc.loadOrganizations()
	if len(errs) == 0 {
		errs = nc.splitSharedKeys() // PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE, over the file of now
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &nc, nil
}

// Version identifies the organisation's configuration, secrets included (by a digest, never
// their value): it changes when any field of its entry, or the content of a file it names,
// does.
func (o Organization) Version() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%q|%v|%d|%g|%s|", o.Name, o.OrgID, o.BusinessIDs, o.ConversationIDs, o.RequestsPerMinute, o.BudgetReserve, o.StateOwnerCheck)
	for _, s := range []secret.Secret{o.APIKey, o.WebhookSecret} {
		d := sha256.Sum256([]byte(s.Reveal()))
		h.Write(d[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// OneOrganizationVars are the variables of the one-organisation case, which the connector
// refuses beside PARTOO_ORGANIZATIONS_FILE (for the checks of deployment files).
func OneOrganizationVars() []string {
	names := make([]string, len(oneOrganizationVars))
	for i, v := range oneOrganizationVars {
		names[i] = v.name
	}
	return names
}
