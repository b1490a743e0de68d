// Package screen is the whole screening path for one image, shared by the page's worker
// (GOOS=js), the server and the trainer's evaluation so that all give the same number:
// decode -> preprocess -> model -> explain.
package screen

import "pneumoscan/model"

// Result is what screening one image gives.
type Result struct {
	Prob      float64         // P(pneumonia), after the model's temperature
	Positive  bool            // Prob >= Threshold.Value
	Threshold model.Threshold // the model's operating threshold
	Width     int             // decoded image size, pixels
	Height    int
	// Heatmap is the Grad-CAM map at the model input size (Size x Size, row-major),
	// normalised to [0,1]; it lies over the whole image (the resize rule stretches).
	Heatmap     []float32
	HeatmapSize int
}
