package partoosim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// AdminPrefix is where the admin endpoints live; the real API has nothing there.
const AdminPrefix = "/_sim/"

// adminRoutes registers the scenario endpoints:
//
//	POST /_sim/conversations               ConversationSpec → Conversation
//	POST /_sim/conversations/{id}/close    status Closed, is_solved true
//	POST /_sim/messages                    MessageSpec → Message
//	POST /_sim/messages/{id}/status        {"status": "Success"}
//	POST /_sim/messages/{id}/delete        consumer deletion (is_deleted=true)
//	POST /_sim/messages/{id}/vanish        the message disappears from the API
//	GET  /_sim/changes?since=N             ground-truth log after seq N
//	GET  /_sim/counters                    request counters
//	POST /_sim/reset                       empty everything
//
// They need no API key and are not rate limited.
func (s *Sim) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/conversations", func(w http.ResponseWriter, r *http.Request) {
		var spec ConversationSpec
		if !readJSON(w, r, &spec) {
			return
		}
		writeJSON(w, http.StatusCreated, s.CreateConversation(spec))
	})
	s.closeRoute(mux)
	mux.HandleFunc("POST /_sim/messages", func(w http.ResponseWriter, r *http.Request) {
		var spec MessageSpec
		if !readJSON(w, r, &spec) {
			return
		}
		m, err := s.AddMessage(spec)
		if err != nil {
			adminErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, m)
	})
	mux.HandleFunc("POST /_sim/messages/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "json", "message id must be an integer")
			return
		}
		switch r.PathValue("action") {
		case "status":
			var body struct {
				Status model.Status `json:"status"`
			}
			if !readJSON(w, r, &body) {
				return
			}
			if body.Status == "" {
				writeErr(w, http.StatusBadRequest, "json", "status is required")
				return
			}
			err = s.SetStatus(id, body.Status)
		case "delete":
			err = s.DeleteMessage(id)
		case "vanish":
			err = s.VanishMessage(id)
		default:
			writeErr(w, http.StatusNotFound, "json", "unknown action")
			return
		}
		if err != nil {
			adminErr(w, err)
			return
		}
		m, _ := s.Message(id)
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("GET /_sim/changes", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		ch := s.Changes(since)
		if ch == nil {
			ch = []Change{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"changes": ch})
	})
	mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	})
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "json", "malformed JSON: "+err.Error())
		return false
	}
	return true
}

func adminErr(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNoConversation) || errors.Is(err, ErrNoMessage) {
		writeErr(w, http.StatusNotFound, "json", err.Error())
		return
	}
	writeErr(w, http.StatusInternalServerError, "server", err.Error())
}

// closeRoute serves POST /_sim/conversations/{id}/close.
func (s *Sim) closeRoute(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/conversations/{id}/close", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "json", "conversation id must be an integer")
			return
		}
		if err := s.CloseConversation(id); err != nil {
			adminErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
