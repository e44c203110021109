package partoo

import "time"

// Observer hears what the client does, for metrics, health and logs. Every method must be
// fast and safe for concurrent use; the client calls them on the goroutine of the request.
type Observer interface {
	// Attempt: one HTTP attempt ended, successfully or not (see Attempt.Err).
	Attempt(a Attempt)
	// Skipped: an item of a page could not be decoded and was left out.
	Skipped(s SkippedItem)
	// RateLimited: a 429 paused every request of the client for retryAfter.
	RateLimited(retryAfter time.Duration)
	// BudgetWaited: a request waited d for the budget.
	BudgetWaited(d time.Duration)
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

// Observers returns an Observer that forwards to each of obs (nil ones are dropped).
func Observers(obs ...Observer) Observer {
	var out multiObserver
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

type multiObserver []Observer

func (m multiObserver) Attempt(a Attempt) {
	for _, o := range m {
		o.Attempt(a)
	}
}

func (m multiObserver) Skipped(s SkippedItem) {
	for _, o := range m {
		o.Skipped(s)
	}
}

func (m multiObserver) RateLimited(d time.Duration) {
	for _, o := range m {
		o.RateLimited(d)
	}
}

func (m multiObserver) BudgetWaited(d time.Duration) {
	for _, o := range m {
		o.BudgetWaited(d)
	}
}
