package service

import (
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// Gauges reads an engine's figures at scrape time (zero before it exists).
func Gauges(eng func() *engine.Engine) metrics.Gauges {
	read := func(f func(e *engine.Engine) float64) func() float64 {
		return func() float64 {
			if e := eng(); e != nil {
				return f(e)
			}
			return 0
		}
	}
	pass := func(f func(p *status.Pass) float64) func() float64 {
		return read(func(e *engine.Engine) float64 {
			if p := e.Status().Pass; p != nil {
				return f(p)
			}
			return 0
		})
	}
	return metrics.Gauges{
		Conversations: read(func(e *engine.Engine) float64 { n, _ := e.Index().Len(); return float64(n) }),
		Messages:      read(func(e *engine.Engine) float64 { _, n := e.Index().Len(); return float64(n) }),
		BudgetTokens:  read(func(e *engine.Engine) float64 { return float64(e.Budget().Available()) }),
		BudgetRate:    read(func(e *engine.Engine) float64 { return e.Budget().RatePerMinute() }),
		PassDone:      pass(func(p *status.Pass) float64 { return float64(p.Done) }),
		PassTotal:     pass(func(p *status.Pass) float64 { return float64(p.Total) }),
		PassETA:       pass(func(p *status.Pass) float64 { return p.ETASeconds }),
		PassPhase: func() string {
			if e := eng(); e != nil {
				if p := e.Status().Pass; p != nil {
					return p.Phase
				}
			}
			return ""
		},
		HangingClosed: read(func(e *engine.Engine) float64 { return float64(e.KafkaStats().HangingClosed) }),
	}
}
