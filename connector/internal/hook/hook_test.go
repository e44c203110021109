package hook_test

import (
	"fmt"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/hook"
)

type ping interface{ OnPing(int) }

type pinger struct{ got *[]string }

func (p pinger) OnPing(n int) { *p.got = append(*p.got, fmt.Sprint("ping ", n)) }

// Each calls, in order, the listeners that implement the event's interface, and skips the rest.
func TestEachCallsTheListenersThatHear(t *testing.T) {
	var got []string
	hook.Each([]any{pinger{&got}, "deaf", nil, pinger{&got}}, func(h ping) { h.OnPing(7) })
	if fmt.Sprint(got) != "[ping 7 ping 7]" {
		t.Fatalf("got %v", got)
	}
}
