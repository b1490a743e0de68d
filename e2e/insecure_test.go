package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"pneumoscan/server/files"
)

// TestInsecureContext opens the site by a host name over plain HTTP, the way a clinic's LAN
// would without TLS: the browser gives it no Cache Storage and no service worker, and the page
// must say what is needed instead of failing with a JavaScript error.
func TestInsecureContext(t *testing.T) {
	static := buildSite(t)
	srv, base := serve(t, files.New(static))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	// scanner.clinic.test is this machine's loopback: a host name that is not localhost.
	ctx := newBrowser(t, 3*time.Minute, chromedp.Flag("host-resolver-rules", "MAP scanner.clinic.test 127.0.0.1"))
	// Start the browser on ctx itself (a step's shorter context would own it otherwise).
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the page over plain HTTP by host name", 2*time.Minute,
		chromedp.Navigate("http://scanner.clinic.test:"+port+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #insecure-context`)))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("insecure-context")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"needs HTTPS", "http://scanner.clinic.test:" + port, "TLS_DIR"} {
		if !strings.Contains(text, want) {
			t.Errorf("the insecure-context notice %q does not say %q", text, want)
		}
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#accept-notice, #dropzone").length`)); n != 0 {
		t.Errorf("the page still offers the notice or the drop zone in an insecure context")
	}
}
