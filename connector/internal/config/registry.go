package config

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"

	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// validateRegistry checks the SCHEMA_REGISTRY_* variables.
func (c *Config) validateRegistry() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	if c.SchemaRegistrySubjectStrategy != registry.StrategyTopicRecord && c.SchemaRegistrySubjectStrategy != registry.StrategyRecord {
		bad("SCHEMA_REGISTRY_SUBJECT_STRATEGY", "must be topic-record or record")
	}
	if c.SchemaRegistryURL == "" {
		if c.SchemaRegistryUsername != "" || !c.SchemaRegistryPassword.IsZero() || c.SchemaRegistryCAFile != "" {
			bad("SCHEMA_REGISTRY_URL", "required when SCHEMA_REGISTRY_USERNAME, _PASSWORD or _CA_FILE is set")
		}
		return errs
	}
	u, err := url.Parse(c.SchemaRegistryURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL, e.g. http://registry:8081")
	case u.User != nil:
		bad("SCHEMA_REGISTRY_URL", "must not hold credentials: set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD")
	case u.RawQuery != "" || u.Fragment != "":
		bad("SCHEMA_REGISTRY_URL", "must not have a query or fragment")
	case c.SchemaRegistryCAFile != "" && u.Scheme != "https":
		bad("SCHEMA_REGISTRY_CA_FILE", "set but SCHEMA_REGISTRY_URL is not https")
	}
	if (c.SchemaRegistryUsername == "") != c.SchemaRegistryPassword.IsZero() {
		bad("SCHEMA_REGISTRY_PASSWORD", "SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together")
	}
	return errs
}

// Registry returns the schema registry settings (a zero URL: no registry), reading the CA file.
func (c *Config) Registry() (registry.Config, error) {
	rc := registry.Config{URL: c.SchemaRegistryURL, Username: c.SchemaRegistryUsername,
		Password: c.SchemaRegistryPassword, SubjectStrategy: c.SchemaRegistrySubjectStrategy}
	if c.SchemaRegistryCAFile != "" {
		pool, err := readCAFile("SCHEMA_REGISTRY_CA_FILE", c.SchemaRegistryCAFile)
		if err != nil {
			return registry.Config{}, err
		}
		rc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return rc, nil
}

// readCAFile reads a PEM CA bundle named by the variable name.
func readCAFile(name, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{name, "cannot read the file: " + describeFileErr(err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &Error{name, "no PEM certificate in the file"}
	}
	return pool, nil
}

// Scrubber knows every secret of the configuration — the Partoo API keys, the webhook secrets,
// the SASL password and the registry's credentials, of every organisation of the file — so
// that text from elsewhere (an error body that echoes a header) is printed without them by
// every command: run's log, doctor's report.
func (c *Config) Scrubber() *secret.Scrubber {
	sc := &secret.Scrubber{}
	sc.Add(c.PartooAPIKey, c.WebhookSecret, c.KafkaSASLPassword)
	sc.AddBasic(c.SchemaRegistryUsername, c.SchemaRegistryPassword)
	for _, o := range c.Organizations {
		sc.Add(o.APIKey, o.WebhookSecret)
	}
	return sc
}
