package schedule

import "time"

// retries holds back the conversations whose walks fail: after a failure the conversation is
// not walked again before a delay that starts at min and doubles with each failure in a row,
// up to max; a walk that does not fail forgets it. Both schedulers use it, so a failing
// conversation backs off the same way whatever the organisation's size and whatever asks for
// the walk (reconciliation, a sweep, discovery, a Sending re-walk, a hint). Not safe for
// concurrent use: the scheduler's lock guards it.
type retries struct {
	min, max time.Duration
	delay    map[int64]time.Duration // the delay after the last failure
	until    map[int64]time.Time     // no walk before
}

func newRetries(min, max time.Duration) retries {
	return retries{min: min, max: max, delay: map[int64]time.Duration{}, until: map[int64]time.Time{}}
}

// failed records a failed walk of id at now and returns when it may be walked again.
func (r *retries) failed(id int64, now time.Time) time.Time {
	d := r.delay[id]
	if d == 0 {
		d = r.min
	} else {
		d = min(2*d, r.max)
	}
	r.delay[id] = d
	r.until[id] = now.Add(d)
	return r.until[id]
}

// succeeded forgets id's failures.
func (r *retries) succeeded(id int64) {
	delete(r.delay, id)
	delete(r.until, id)
}

// held reports whether id failed and its delay has not run out at now.
func (r *retries) held(id int64, now time.Time) bool {
	until, ok := r.until[id]
	return ok && now.Before(until)
}

// next is the earliest time a held conversation may be walked again (zero if none is held).
func (r *retries) next(now time.Time) time.Time {
	var t time.Time
	for _, u := range r.until {
		if u.After(now) && (t.IsZero() || u.Before(t)) {
			t = u
		}
	}
	return t
}
