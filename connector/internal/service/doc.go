// Package service is the supervisor of a process: it runs one engine per organisation
// (package engine) side by side and shares among them what a process has once — the metrics
// registry (each engine's series carry its organization label), the HTTP surface (Status,
// Readiness, the webhook receiver's Covers and Hint: package httpapi's Service) and the Kafka
// cluster. Today's single-organisation run is the case of one engine, whose /status, /readyz
// and errors are that engine's, unchanged.
//
// Run starts every engine and returns when ctx ends (nil) or when one engine stops with an
// error that needs an operator: the others are stopped and the error names the organisation.
// Nothing here calls back into an engine beyond its exported methods; engines know nothing of
// each other or of the supervisor.
package service
