package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"pneumoscan/modelconv/torchvision"
	"pneumoscan/resnet"
)

func main() {
	b, err := torchvision.ImportFile("/tmp/resnet50_tv.onnx", resnet.ResNet50)
	if err != nil {
		panic(err)
	}
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = float32(math.Sin(0.37 * float64(i)))
	}
	f, _, err := b.Forward(x, 224)
	if err != nil {
		panic(err)
	}
	p := resnet.Pool(f, 2048)
	var want []float64
	d, _ := os.ReadFile("/tmp/r50_pooled.json")
	json.Unmarshal(d, &want)
	var maxd, maxv float64
	for i := range want {
		maxd = math.Max(maxd, math.Abs(float64(p[i])-want[i]))
		maxv = math.Max(maxv, math.Abs(want[i]))
	}
	fmt.Printf("resnet50 import: pooled max |diff| %.3g (max |value| %.3g), first %v vs %v\n", maxd, maxv, p[:3], want[:3])
}
