package config

import "github.com/partoo-connector/partoo-connector/connector/internal/secret"

// LoadOwnerKey reads only the Partoo API key (PARTOO_API_KEY or PARTOO_API_KEY_FILE) and
// PARTOO_ORG_ID, for the commands that write state records besides the connector
// (rebuild-state): each state record names its owner, the key's fingerprint and the
// organisation, as the connector's own do. On failure the error is an Errors naming them.
func LoadOwnerKey() (secret.Secret, int64, error) {
	var c Config
	errs := parse(&c)
	if c.PartooOrganizationsFile != "" {
		return secret.Secret{}, 0, Errors{{Var: "PARTOO_ORGANIZATIONS_FILE", Problem: "this command acts on one organisation: " +
			"unset it, and set that organisation's key (PARTOO_API_KEY or PARTOO_API_KEY_FILE), PARTOO_ORG_ID, KAFKA_STATE_TOPIC and KAFKA_TRANSACTIONAL_ID"}}
	}
	errs = append(errs, c.validatePartoo()...)
	var mine Errors
	for _, e := range errs {
		switch e.Var {
		case "PARTOO_API_KEY", "PARTOO_API_KEY_FILE", "PARTOO_ORG_ID":
			mine = append(mine, e)
		}
	}
	if len(mine) > 0 {
		return secret.Secret{}, 0, mine
	}
	return c.PartooAPIKey, c.PartooOrgID, nil
}
