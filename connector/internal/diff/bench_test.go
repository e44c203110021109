package diff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

func benchWalk(n int) []model.Message {
	walk := make([]model.Message, n)
	for i := range walk {
		walk[i] = msg(int64(i+1), model.StatusSuccess)
	}
	return walk
}

// BenchmarkDiff reports messages diffed per second on one core: "steady" re-walks a
// conversation that did not change (the common case), "new" walks one never seen (backfill).
func BenchmarkDiff(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		walk := benchWalk(n)
		prev := diff.Diff(nil, conv, walk, diff.Complete, t0, diff.Options{}).Next
		b.Run(fmt.Sprintf("steady/messages=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := diff.Diff(prev, conv, walk, diff.Complete, t0.Add(time.Minute), diff.Options{}); r.Changed {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run(fmt.Sprintf("new/messages=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := diff.Diff(nil, conv, walk, diff.Complete, t0, diff.Options{}); len(r.Events) != n {
					b.Fatal("events")
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
