// Command app is the browser entry point of the pneumoscan page (static/web/app.wasm).
// It only wires go-app to package web; it must not import the model code, which lives in
// the separate worker binary.
package main

import (
	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"pneumoscan/web"
)

func main() {
	web.RegisterRoutes()
	app.RunWhenOnBrowser()
}
