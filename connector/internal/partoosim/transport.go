package partoosim

import (
	"bytes"
	"io"
	"net/http"
)

// Transport serves requests from the simulator in process, without sockets: with an
// clock.Event, a request then runs entirely on its caller's goroutine.
func (s *Sim) Transport() http.RoundTripper { return handlerTransport{s.Handler()} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(w, r)
	if err := r.Context().Err(); err != nil && w.buf.Len() == 0 {
		return nil, err
	}
	return &http.Response{
		Status: http.StatusText(w.status), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.buf), ContentLength: int64(w.buf.Len()), Request: r,
	}, nil
}

type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *bufferedResponse) Write(b []byte) (int, error) {
	w.wrote = true
	return w.buf.Write(b)
}
