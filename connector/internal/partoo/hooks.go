package partoo

import (
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/hook"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Hook hears what the client does, for metrics, health and logs: any value that implements
// one or more of the Hook* interfaces below, as franz-go's kgo hooks do; the client calls the
// ones it implements. Every method must be fast and safe for concurrent use: the client calls
// them on the goroutine of the request.
type Hook = any

// HookAttempt hears each HTTP attempt that ended, successfully or not (see Attempt.Err).
type HookAttempt interface{ OnAttempt(a Attempt) }

// HookSkipped hears each item of a page that could not be decoded and was left out.
type HookSkipped interface{ OnSkipped(s SkippedItem) }

// HookRepaired hears each item of a page that was kept with a field repaired (RepairedItem):
// what is published differs from what Partoo sent.
type HookRepaired interface{ OnRepaired(r RepairedItem) }

// HookRateLimited hears each 429, which paused every request of the client for retryAfter.
type HookRateLimited interface {
	OnRateLimited(retryAfter time.Duration)
}

// HookBudgetWaited hears how long each request waited for the budget.
type HookBudgetWaited interface{ OnBudgetWaited(d time.Duration) }

// Conversations receives what Partoo says of conversations — every listing page (GET
// /conversations) and every GET /conversations/{id} that decoded, whichever part of the
// connector asked: their business, channel and status, which the events and the conversations
// table carry. It is part of the data path, set as Config.Conversations, not a hook: a hook
// only observes. Record must be fast and safe for concurrent use.
type Conversations interface {
	Record(cs []model.Conversation)
}

// Attempt describes one HTTP attempt.
type Attempt struct {
	Endpoint string        // an Endpoint* label
	Path     string        // path and query, e.g. /v2/messages?conversation_id=1&per_page=100 (never the key)
	Status   int           // HTTP status; 0 when no answer came
	Duration time.Duration // from sending to the end of the body
	Bytes    int           // body bytes read
	Number   int           // 1 for the first attempt of a call
	// Err is nil when the answer was a 2xx page that decoded; else the error, classified by
	// ErrorKind. A 2xx answer whose body could not be used has a non-nil Err.
	Err error
	// Retrying says the client will try again (after a backoff) because of Err.
	Retrying bool
}

// hooks calls, for each event, the hooks that hear it.
type hooks []Hook

func (hs hooks) attempt(a Attempt) { hook.Each(hs, func(h HookAttempt) { h.OnAttempt(a) }) }

func (hs hooks) skipped(s SkippedItem) { hook.Each(hs, func(h HookSkipped) { h.OnSkipped(s) }) }

func (hs hooks) repaired(r RepairedItem) { hook.Each(hs, func(h HookRepaired) { h.OnRepaired(r) }) }

func (hs hooks) rateLimited(d time.Duration) {
	hook.Each(hs, func(h HookRateLimited) { h.OnRateLimited(d) })
}

func (hs hooks) budgetWaited(d time.Duration) {
	hook.Each(hs, func(h HookBudgetWaited) { h.OnBudgetWaited(d) })
}
