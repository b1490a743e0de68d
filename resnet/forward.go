package resnet

import (
	"fmt"
	"math"
)

// Forward runs the backbone on one image x, float32 [3, size, size] row-major (already
// normalised), and returns the last stage's output [Features, s, s] and s. It is a plain,
// slow reference used to check weights (imports, initialisation), not the product's
// inference path.
func (b *Backbone) Forward(x []float32, size int) ([]float32, int, error) {
	if err := b.Check(); err != nil {
		return nil, 0, err
	}
	if len(x) != 3*size*size {
		return nil, 0, fmt.Errorf("resnet: input has %d values, want 3x%dx%d: %w", len(x), size, size, ErrShape)
	}
	convs := b.Arch.Convs()
	t := tensor{c: 3, s: size, d: x}
	t = relu(b.conv(convs[Stem], b.Convs[Stem], t))
	t = maxPool(t)
	for _, blk := range b.Arch.Bottlenecks() {
		y := relu(b.conv(convs[blk.Conv1], b.Convs[blk.Conv1], t))
		y = relu(b.conv(convs[blk.Conv2], b.Convs[blk.Conv2], y))
		y = b.conv(convs[blk.Conv3], b.Convs[blk.Conv3], y)
		short := t
		if blk.Downsample >= 0 {
			short = b.conv(convs[blk.Downsample], b.Convs[blk.Downsample], t)
		}
		for i := range y.d {
			y.d[i] += short.d[i]
		}
		t = relu(y)
	}
	return t.d, t.s, nil
}

// Pool averages a [c, s, s] feature map over space.
func Pool(features []float32, c int) []float32 {
	n := len(features) / c
	out := make([]float32, c)
	for i := range out {
		var sum float64
		for _, v := range features[i*n : (i+1)*n] {
			sum += float64(v)
		}
		out[i] = float32(sum / float64(n))
	}
	return out
}

// Logit is the head's output before the sigmoid for pooled features.
func (h *Head) Logit(pooled []float32) (float64, error) {
	if err := h.Check(); err != nil {
		return 0, err
	}
	if len(pooled) != h.Features {
		return 0, fmt.Errorf("resnet: head takes %d features, got %d: %w", h.Features, len(pooled), ErrShape)
	}
	logit := float64(h.B2[0])
	for u := range h.Hidden {
		z := float64(h.B1[u])
		for k, v := range pooled {
			z += float64(v) * float64(h.FC1[k*h.Hidden+u])
		}
		logit += math.Max(z, 0) * float64(h.FC2[u])
	}
	return logit, nil
}

type tensor struct {
	c, s int
	d    []float32
}

func (b *Backbone) conv(c Conv, w ConvWeights, in tensor) tensor {
	os := c.OutSize(in.s)
	out := tensor{c: c.Out, s: os, d: make([]float32, c.Out*os*os)}
	k := c.Kernel
	for o := range c.Out {
		plane := out.d[o*os*os : (o+1)*os*os]
		for i := range plane {
			plane[i] = w.Bias[o]
		}
		for ci := range c.In {
			src := in.d[ci*in.s*in.s : (ci+1)*in.s*in.s]
			for ky := range k {
				for kx := range k {
					wv := w.Weight[((o*c.In+ci)*k+ky)*k+kx]
					for oy := range os {
						iy := oy*c.Stride - c.Pad + ky
						if iy < 0 || iy >= in.s {
							continue
						}
						row := src[iy*in.s : (iy+1)*in.s]
						dst := plane[oy*os : (oy+1)*os]
						for ox := range os {
							ix := ox*c.Stride - c.Pad + kx
							if ix >= 0 && ix < in.s {
								dst[ox] += wv * row[ix]
							}
						}
					}
				}
			}
		}
	}
	return out
}

func relu(t tensor) tensor {
	for i, v := range t.d {
		if v < 0 {
			t.d[i] = 0
		}
	}
	return t
}

// maxPool is 3x3, stride 2, pad 1; padding never wins (ONNX pads with -inf).
func maxPool(in tensor) tensor {
	os := (in.s+2-3)/2 + 1
	out := tensor{c: in.c, s: os, d: make([]float32, in.c*os*os)}
	for c := range in.c {
		src := in.d[c*in.s*in.s:]
		for oy := range os {
			for ox := range os {
				m := float32(math.Inf(-1))
				for ky := range 3 {
					iy := oy*2 - 1 + ky
					if iy < 0 || iy >= in.s {
						continue
					}
					for kx := range 3 {
						ix := ox*2 - 1 + kx
						if ix >= 0 && ix < in.s && src[iy*in.s+ix] > m {
							m = src[iy*in.s+ix]
						}
					}
				}
				out.d[(c*os+oy)*os+ox] = m
			}
		}
	}
	return out
}
