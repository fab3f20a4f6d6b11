package broker

import (
	"embed"
	"io/fs"
	"net/http"
)

// dashboardFiles is the operator dashboard (DESIGN.md: "operators watch the
// dashboard"): static HTML, CSS and JavaScript with no external resources,
// because an edge box is often offline. The page holds no data of its own:
// it asks the read API with the operator's credentials, so the API's role
// and zone rules are the dashboard's.
//
//go:embed dashboard/index.html dashboard/app.js dashboard/style.css
var dashboardFiles embed.FS

// DashboardPath is where the broker's HTTP server serves the dashboard.
const DashboardPath = "/dashboard/"

// dashboardHandler serves the embedded files under /dashboard/, with a
// Content-Security-Policy that allows only the page's own script, style and
// API calls (no inline script, no framing).
func dashboardHandler() http.Handler {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the embedded directory is constant
	}
	files := http.StripPrefix(DashboardPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
