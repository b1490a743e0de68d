package httpserve

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
)

// BaseCSP is the page's Content-Security-Policy when its HTML has no inline script or style
// element (go-app's generated index.html has neither: it loads /wasm_exec.js, /app.js,
// /app.css and /web/pneumoscan.css). Everything comes from the server itself:
//
//   - script-src 'wasm-unsafe-eval': the page and its worker compile WebAssembly (without it
//     WebAssembly.instantiate is refused); it allows no JavaScript eval.
//   - worker-src 'self': the inference worker and go-app's service worker.
//   - img-src blob: data:: the X-ray preview is an object URL of the chosen file.
//   - connect-src blob:: a cross-check with the reference engine reads the chosen file again
//     from its object URL (fetch of a blob: URL is a connection; 'self' does not cover it).
//   - style-src-attr 'unsafe-inline': go-app sets element styles with
//     setAttribute("style", ...) (the heatmap canvas's opacity and display), which
//     style-src 'self' alone blocks; it allows style attributes only, never <style>
//     elements or style sheets from elsewhere, and no script.
//   - object-src 'none', base-uri 'self', form-action 'self', frame-ancestors 'none'.
const BaseCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self' blob:; " +
	"img-src 'self' blob: data:; style-src 'self'; style-src-attr 'unsafe-inline'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

var (
	inlineScript = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	inlineStyle  = regexp.MustCompile(`(?is)<style\b[^>]*>(.*?)</style\s*>`)
	srcAttr      = regexp.MustCompile(`(?i)\ssrc\s*=`)
)

// CSP returns the policy for a page: BaseCSP, plus a 'sha256-...' source in script-src for
// each inline <script> of html and in style-src for each <style> element, so that a future
// generator that inlines a script keeps working without 'unsafe-inline'.
func CSP(html []byte) string {
	var scripts, styles []string
	for _, m := range inlineScript.FindAllSubmatch(html, -1) {
		if !srcAttr.Match(m[1]) && len(strings.TrimSpace(string(m[2]))) > 0 {
			scripts = append(scripts, hashSource(m[2]))
		}
	}
	for _, m := range inlineStyle.FindAllSubmatch(html, -1) {
		styles = append(styles, hashSource(m[1]))
	}
	p := BaseCSP
	if len(scripts) > 0 {
		p = strings.Replace(p, "script-src 'self'", "script-src 'self' "+strings.Join(scripts, " "), 1)
	}
	if len(styles) > 0 {
		p = strings.Replace(p, "style-src 'self';", "style-src 'self' "+strings.Join(styles, " ")+";", 1)
	}
	return p
}

func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// SecurityHeaders sets, on every response of h: the Content-Security-Policy csp,
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and X-Frame-Options: DENY.
func SecurityHeaders(h http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}
