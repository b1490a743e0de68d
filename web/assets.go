//go:build !wasm

package web

import "embed"

// Assets are the page's own static files (stylesheet, worker script). Only native code
// (the site generator) embeds them; app.wasm loads them over HTTP like any page would.
//
//go:embed assets
var Assets embed.FS
