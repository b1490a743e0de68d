// Package gradcam explains a prediction: Grad-CAM in closed form for the contract's head
// (GlobalAveragePool -> Dense(ReLU) -> Dense(1) -> sigmoid), and a colormap to draw it.
//
// For that head the gradient of the logit with respect to feature map A_k is the same at
// every position, so Grad-CAM needs no autograd:
//
//	g_k = mean(A_k), h = W1^T g + b1, alpha_k = (1/HW) sum_j v_j [h_j > 0] W1[k][j]
//	cam = ReLU(sum_k alpha_k A_k)
//
// Map then upsamples bilinearly to the input size (torch's align_corners=False convention)
// and divides by the maximum, in that order: normalising after upsampling gives a map whose
// maximum is exactly 1 at the input resolution. An all-zero map stays zero.
package gradcam

import (
	"fmt"
	"math"
	"pneumoscan/resnet"
)

// CAM is ReLU(sum_k alpha_k A_k) at feature resolution (height x width, row-major), not
// normalised, for the contract's head h (K = h.Features channels, U = h.Hidden units;
// FC1 [K,U] and FC2 [U,1] as the model file stores them). features is [K, height, width].
func CAM(h *resnet.Head, features []float32, height, width int) ([]float32, error) {
	if err := h.Check(); err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	hw := height * width
	if hw <= 0 || len(features) != h.Features*hw {
		return nil, fmt.Errorf("gradcam: %d feature values, want K*H*W = %d*%d*%d", len(features), h.Features, height, width)
	}
	// Hidden pre-activations, to know which units the ReLU lets through.
	gate := make([]float64, h.Hidden) // v_j * [h_j > 0]
	pre := make([]float64, h.Hidden)
	for j := range pre {
		pre[j] = float64(h.B1[j])
	}
	for k := 0; k < h.Features; k++ {
		var s float64
		for _, a := range features[k*hw : (k+1)*hw] {
			s += float64(a)
		}
		g := s / float64(hw)
		row := h.FC1[k*h.Hidden : (k+1)*h.Hidden]
		for j, w := range row {
			pre[j] += g * float64(w)
		}
	}
	for j, p := range pre {
		if p > 0 {
			gate[j] = float64(h.FC2[j])
		}
	}
	cam := make([]float64, hw)
	for k := 0; k < h.Features; k++ {
		var alpha float64
		for j, w := range h.FC1[k*h.Hidden : (k+1)*h.Hidden] {
			alpha += gate[j] * float64(w)
		}
		alpha /= float64(hw)
		if alpha == 0 {
			continue
		}
		for i, a := range features[k*hw : (k+1)*hw] {
			cam[i] += alpha * float64(a)
		}
	}
	out := make([]float32, hw)
	for i, v := range cam {
		out[i] = float32(math.Max(v, 0))
	}
	return out, nil
}

// Map is the Grad-CAM heatmap at size x size: CAM, bilinear upsample, divide by the maximum.
func Map(h *resnet.Head, features []float32, height, width, size int) ([]float32, error) {
	cam, err := CAM(h, features, height, width)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("gradcam: size %d must be positive", size)
	}
	m := Upsample(cam, height, width, size, size)
	Normalize(m)
	return m, nil
}

// Upsample resizes an h x w map to outH x outW bilinearly with the half-pixel convention of
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
func Upsample(m []float32, h, w, outH, outW int) []float32 {
	ys0, ys1, yl := sourceIndex(h, outH)
	xs0, xs1, xl := sourceIndex(w, outW)
	out := make([]float32, outH*outW)
	for y := 0; y < outH; y++ {
		r0, r1, ly := m[ys0[y]*w:], m[ys1[y]*w:], yl[y]
		for x := 0; x < outW; x++ {
			x0, x1, lx := xs0[x], xs1[x], xl[x]
			top := (1-lx)*float64(r0[x0]) + lx*float64(r0[x1])
			bot := (1-lx)*float64(r1[x0]) + lx*float64(r1[x1])
			out[y*outW+x] = float32((1-ly)*top + ly*bot)
		}
	}
	return out
}

func sourceIndex(in, out int) (i0, i1 []int, frac []float64) {
	i0, i1, frac = make([]int, out), make([]int, out), make([]float64, out)
	scale := float64(in) / float64(out)
	for d := 0; d < out; d++ {
		src := max((float64(d)+0.5)*scale-0.5, 0)
		i := min(int(src), in-1)
		i0[d], i1[d], frac[d] = i, min(i+1, in-1), src-float64(i)
	}
	return i0, i1, frac
}

// Normalize divides m by its maximum in place; a map with no positive value is left as is.
func Normalize(m []float32) {
	var hi float32
	for _, v := range m {
		hi = max(hi, v)
	}
	if hi <= 0 {
		return
	}
	for i := range m {
		m[i] /= hi
	}
}
