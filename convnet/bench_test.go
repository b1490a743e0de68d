package convnet

import (
	"pneumoscan/internal/testmodel"
	"runtime"
	"testing"
	"time"
)

// BenchmarkResNet50 times one inference of the shipped ResNet50 (models/default.onnx) on an
// X-ray fixture, for convnet and for onnx-go, and reports the process's memory afterwards:
// Sys (all memory the Go runtime holds; in wasm, the linear memory) and HeapSys. Each
// sub-benchmark loads only its own engine. Run it alone (-bench ResNet50/convnet) for a
// clean memory figure.
func BenchmarkResNet50(b *testing.B) {
	data := testmodel.Shipped(b)
	x := imageTensor(b, data, testmodel.XRay(b, "pneumonia-person100_bacteria_475.jpeg"))
	report := func(b *testing.B) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "Sys-MiB")
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "HeapSys-MiB")
	}
	for _, wino := range []bool{true, false} {
		name := "convnet"
		if !wino {
			name = "convnet-im2col"
		}
		b.Run(name, func(b *testing.B) {
			useWinograd = wino
			defer func() { useWinograd = true }()
			benchConvnet(b, data, x)
			report(b)
		})
	}
	b.Run("onnx-go", func(b *testing.B) {
		e := loadOnnxGo(b, data)
		runtime.GC()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := e.Run(x); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

func benchConvnet(b *testing.B, data []byte, x []float32) {
	net, err := Load(loadPrepared(b, data))
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := net.Run(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(net.Bytes())/(1<<20), "net-MiB")
}

// BenchmarkWinogradAB loads the model twice, with and without Winograd, and alternates
// single inferences between the two, reporting each one's fastest: on a shared machine the
// minimum of interleaved runs compares the two better than separate benchmarks do.
func BenchmarkWinogradAB(b *testing.B) {
	data := testmodel.Shipped(b)
	x := imageTensor(b, data, testmodel.XRay(b, "pneumonia-person100_bacteria_475.jpeg"))
	var nets [2]*Net
	for i, wino := range []bool{true, false} {
		useWinograd = wino
		var err error
		nets[i], err = Load(loadPrepared(b, data))
		useWinograd = true
		if err != nil {
			b.Fatal(err)
		}
	}
	best := [2]time.Duration{time.Hour, time.Hour}
	b.ResetTimer()
	for b.Loop() {
		for i, n := range nets {
			start := time.Now()
			if _, _, err := n.Run(x); err != nil {
				b.Fatal(err)
			}
			best[i] = min(best[i], time.Since(start))
		}
	}
	b.ReportMetric(float64(best[0].Milliseconds()), "winograd-min-ms")
	b.ReportMetric(float64(best[1].Milliseconds()), "im2col-min-ms")
}
