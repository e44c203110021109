// Package deploycheck holds no code: its tests check deploy/ (the Kubernetes bases, the Strimzi
// and organisations overlays, the Grafana dashboard, docker-compose.yml) against the
// configuration's variables and validation and the metrics the service registers.
package deploycheck
