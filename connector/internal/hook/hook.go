// Package hook is the one way the connector's packages call their listeners, as franz-go's kgo
// hooks do: a listener is any value, and it hears an event when it implements the interface of
// that event (partoo.HookAttempt, pipeline.HookWalked, ...). A listener implements only what it
// wants to hear.
package hook

// Each calls f with every listener of hs that implements H, in order.
func Each[H any](hs []any, f func(H)) {
	for _, h := range hs {
		if h, ok := h.(H); ok {
			f(h)
		}
	}
}
