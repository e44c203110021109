package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// checkOrganizationsGroup reports, with the organisations file and leader election, which
// replicas run which organisations (as the group's coordinator describes them), and the
// organisations of the file no replica runs.
func checkOrganizationsGroup(ctx context.Context, cfg *config.Config, kopts []kgo.Opt, r reporter) {
	const name = "organisations group"
	group := cfg.KafkaTransactionalID + ".organizations"
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		r.fail(name, err.Error(), "check the Kafka settings")
		return
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	members, err := assign.Describe(cctx, kadm.NewClient(cl), group)
	switch {
	case errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.CoordinatorLoadInProgress), errors.Is(err, kerr.NotCoordinator):
		r.warn(name, fmt.Sprintf("cannot describe the group %s yet: %v", group, err), "the broker's group coordinator is still starting: run doctor again in a minute")
		return
	case err != nil:
		r.warn(name, fmt.Sprintf("cannot describe the group %s: %v", group, err), "grant Describe on the group to see which replica runs which organisation")
		return
	}
	if len(members) == 0 {
		r.pass(name, fmt.Sprintf("no replica in the group %s yet: the first to start runs every organisation until others join", group))
		return
	}
	versions := map[string]string{}
	for _, o := range cfg.Organizations {
		versions[o.Name] = o.Version()
	}
	own, files := assign.FileDigest(versions), map[string]int{}
	running := map[string]bool{}
	var lines []string
	for _, m := range members {
		files[m.File]++
		for _, o := range m.Organizations {
			running[o] = true
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %d [%s]", m.MemberID, m.ClientHost, len(m.Organizations), strings.Join(m.Organizations, " ")))
	}
	var idle []string
	for _, o := range cfg.Organizations {
		if !running[o.Name] {
			idle = append(idle, o.Name)
		}
	}
	msg := fmt.Sprintf("%d replica(s) in %s: %s", len(members), group, strings.Join(lines, "; "))
	if len(files) > 1 || files[own] == 0 {
		r.warn(name, fmt.Sprintf("%s; the replicas read %d different organisations files (%d read the one doctor reads)", msg, len(files), files[own]),
			"each replica runs only what its own file lists: normal for a minute while a ConfigMap change reaches every pod; if it lasts, the pods mount different files")
		return
	}
	if len(idle) > 0 {
		r.warn(name, msg+"; run by none: "+strings.Join(idle, " "),
			"a move in progress settles within seconds; if it lasts, the replicas may read another version of the file (or none runs yet)")
		return
	}
	r.pass(name, msg)
}
