package broker

import (
	"net/http"
	"strconv"

	"github.com/signet-city/signet/broker/audit"
)

// EventsPage is GET /api/v1/events?limit=N[&before=CURSOR]: past security
// events from the audit log, rotated files included, newest first. Next is
// the cursor of the page of older events ("" when there are none).
type EventsPage struct {
	Events []audit.Entry `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// serveEvents answers GET /api/v1/events for auditors and admins: with
// neither limit nor before, the newest n (default all kept) of the
// in-memory ring, newest last, as before; with either, a page of the audit
// log. The cursor is the sequence number of the oldest event already seen.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, id Identity) {
	if id.Role != RoleAuditor && id.Role != RoleAdmin {
		http.Error(w, "security events are for auditors", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	if !q.Has("limit") && !q.Has("before") {
		n, _ := strconv.Atoi(q.Get("n"))
		writeJSON(w, s.events.Recent(n))
		return
	}
	limit, max := DefaultEventsPageLimit, s.dash.cfg.EventsPageMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			http.Error(w, "limit: want a number of events from 1 to "+strconv.Itoa(max)+" (dashboard.events_page_max)", http.StatusBadRequest)
			return
		}
		limit = n
	}
	var before uint64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			http.Error(w, "before: want the next cursor of a previous page", http.StatusBadRequest)
			return
		}
		before = n
	}
	if s.cfg.Audit == "" {
		http.Error(w, "no audit log is configured (audit:), so there are no past events to page through", http.StatusNotFound)
		return
	}
	page, more, err := audit.Page(s.cfg.Audit, before, limit)
	if err != nil {
		http.Error(w, "reading the audit log: "+err.Error(), http.StatusInternalServerError)
		return
	}
	out := EventsPage{Events: page}
	if out.Events == nil {
		out.Events = []audit.Entry{}
	}
	if more && len(page) > 0 {
		out.Next = strconv.FormatUint(page[len(page)-1].Seq, 10)
	}
	writeJSON(w, out)
}
