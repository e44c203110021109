package partoo

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// TransportConfig sizes the HTTP transport the Partoo clients of a process share. Zero values
// take the defaults in brackets.
type TransportConfig struct {
	// MaxInFlight is the most requests the process has in flight to the API at once: the sum
	// of every organisation's walks in flight (their MaxInFlight). [16, one organisation]
	MaxInFlight int
	// Margin is kept open beyond MaxInFlight for the listings, discovery and conversation
	// reads that run beside the walks. [max(8, MaxInFlight/4)]
	Margin int
	// DialTimeout bounds opening one TCP connection. [10 s]
	DialTimeout time.Duration
	// IdleConnTimeout closes a connection idle that long; at least 90 s, so that a connection
	// survives the pause between two polls. [120 s]
	IdleConnTimeout time.Duration
	// TLSHandshakeTimeout bounds one TLS handshake. [10 s]
	TLSHandshakeTimeout time.Duration
	// TLSSessions is the size of the TLS session cache: a connection opened again to a
	// server seen before resumes its session instead of a full handshake. [64]
	TLSSessions int
}

// Validate reports every setting out of range, joined.
func (c TransportConfig) Validate() error {
	var errs []error
	for _, v := range []struct {
		name string
		n    int64
	}{{"MaxInFlight", int64(c.MaxInFlight)}, {"Margin", int64(c.Margin)}, {"DialTimeout", int64(c.DialTimeout)},
		{"IdleConnTimeout", int64(c.IdleConnTimeout)}, {"TLSHandshakeTimeout", int64(c.TLSHandshakeTimeout)}, {"TLSSessions", int64(c.TLSSessions)}} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("partoo: transport %s is negative", v.name))
		}
	}
	if c.IdleConnTimeout > 0 && c.IdleConnTimeout < 90*time.Second {
		errs = append(errs, fmt.Errorf("partoo: transport IdleConnTimeout %s is below 90 s: connections would close between polls", c.IdleConnTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero values replaced by the defaults.
func (c TransportConfig) withDefaults() TransportConfig {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 16
	}
	if c.Margin <= 0 {
		c.Margin = max(8, c.MaxInFlight/4)
	}
	setDefault(&c.DialTimeout, 10*time.Second)
	setDefault(&c.IdleConnTimeout, 120*time.Second)
	setDefault(&c.TLSHandshakeTimeout, 10*time.Second)
	if c.TLSSessions <= 0 {
		c.TLSSessions = 64
	}
	return c
}

// NewTransport returns an HTTP transport for Partoo's API, to be shared by every Client of
// the process (Config.Transport): it keeps MaxInFlight+Margin connections to the API open
// between requests (Go's default transport keeps 2 per host, so that most requests of
// concurrent walks opened a new connection, each a TLS handshake), does not cap the
// connections per host, resumes TLS sessions, speaks HTTP/2 where the server offers it, and
// takes its proxy from the environment (HTTPS_PROXY, NO_PROXY) as Go's default transport does.
func NewTransport(cfg TransportConfig) (*http.Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newTransport(cfg), nil
}

func newTransport(cfg TransportConfig) *http.Transport {
	cfg = cfg.withDefaults()
	idle := cfg.MaxInFlight + cfg.Margin
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       0, // no cap: the budget and the walkers in flight bound the requests
		IdleConnTimeout:       cfg.IdleConnTimeout,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(cfg.TLSSessions)},
	}
}
