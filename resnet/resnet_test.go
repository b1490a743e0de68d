package resnet

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestResNet50Layout(t *testing.T) {
	convs := ResNet50.Convs()
	if len(convs) != 53 {
		t.Fatalf("ResNet50 has %d convolutions, want 53", len(convs))
	}
	weights := 0
	for _, c := range convs {
		weights += c.WeightLen()
	}
	// torchvision resnet50: 23,508,032 backbone parameters = conv weights + 2 x 26,560 BN.
	if weights != 23_508_032-2*26_560 {
		t.Errorf("conv weights = %d", weights)
	}
	want := map[int]Conv{
		0:  {Name: "conv1", In: 3, Out: 64, Kernel: 7, Stride: 2, Pad: 3},
		4:  {Name: "layer1.0.downsample.0", In: 64, Out: 256, Kernel: 1, Stride: 1},
		12: {Name: "layer2.0.conv2", In: 128, Out: 128, Kernel: 3, Stride: 2, Pad: 1},
		14: {Name: "layer2.0.downsample.0", In: 256, Out: 512, Kernel: 1, Stride: 2},
		52: {Name: "layer4.2.conv3", In: 512, Out: 2048, Kernel: 1, Stride: 1},
	}
	for i, w := range want {
		if convs[i] != w {
			t.Errorf("conv %d = %+v, want %+v", i, convs[i], w)
		}
	}
	if n := len(ResNet50.Bottlenecks()); n != 16 {
		t.Errorf("%d bottlenecks, want 16", n)
	}
	if s := ResNet50.FeatureSize(224); s != 7 {
		t.Errorf("feature size at 224 = %d, want 7", s)
	}
	if f := ResNet50.Features(); f != 2048 {
		t.Errorf("features = %d", f)
	}
}

func TestValidate(t *testing.T) {
	bad := ResNet50
	bad.Widths[2] = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "stage 3") {
		t.Errorf("Validate = %v, want an error naming stage 3", err)
	}
}

func TestCheckNamesLayer(t *testing.T) {
	b, err := RandomBackbone(Tiny, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	b.Convs[5].Weight = b.Convs[5].Weight[1:]
	err = b.Check()
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), Tiny.Convs()[5].Name+".weight") {
		t.Errorf("Check = %v, want a shape error naming %s", err, Tiny.Convs()[5].Name)
	}
	h, _ := RandomHead(16, 4, 1)
	h.B1 = nil
	if err := h.Check(); !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "head.fc1.bias") {
		t.Errorf("Head.Check = %v", err)
	}
}

func TestRandomIsDeterministic(t *testing.T) {
	a, _ := RandomBackbone(Tiny, 7)
	b, _ := RandomBackbone(Tiny, 7)
	c, _ := RandomBackbone(Tiny, 8)
	if a.Convs[3].Weight[0] != b.Convs[3].Weight[0] || a.Convs[3].Weight[0] == c.Convs[3].Weight[0] {
		t.Errorf("same seed must give the same weights and another seed others")
	}
}

// The random initialisation must keep ResNet50's activations O(1) through all 16 blocks and
// give a head logit that is not saturated, or a demonstration model shows only 0 or 1.
func TestRandomResNet50ActivationsStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ResNet50 forward pass")
	}
	b, err := RandomBackbone(ResNet50, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := RandomHead(2048, 128, 2)
	const size = 64 // the statistics do not depend on the size; 64 keeps the test fast
	x := make([]float32, 3*size*size)
	n := newNormal(99)
	for i := range x {
		x[i] = float32(n.next())
	}
	feat, s, err := b.Forward(x, size)
	if err != nil {
		t.Fatal(err)
	}
	if s != 2 {
		t.Fatalf("feature size %d at input %d, want 2", s, size)
	}
	var sum2 float64
	for _, v := range feat {
		sum2 += float64(v) * float64(v)
	}
	rms := math.Sqrt(sum2 / float64(len(feat)))
	t.Logf("feature rms %.3f", rms)
	if rms < 0.1 || rms > 10 {
		t.Errorf("last-block feature rms %.3g, want O(1)", rms)
	}
	logit, err := h.Logit(Pool(feat, 2048))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("logit %.3f", logit)
	if math.Abs(logit) > 4 {
		t.Errorf("logit %.3g saturates the sigmoid", logit)
	}
}

func TestNamed(t *testing.T) {
	if a, err := Named("resnet50"); err != nil || a != ResNet50 {
		t.Errorf("resnet50: %+v %v", a, err)
	}
	if a, err := Named("tiny"); err != nil || a != Tiny {
		t.Errorf("tiny: %+v %v", a, err)
	}
	if _, err := Named("vgg"); err == nil || !strings.Contains(err.Error(), `"vgg"`) {
		t.Errorf("vgg: %v", err)
	}
}
