package backbone

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"pneumoscan/resnet"
	"pneumoscan/sgemm"
)

// convHook sees the output of convolution i (bias added, before any ReLU or residual sum) for
// every image of the batch, each [Out, hw] row-major. It may change the convolution's weights
// and the outputs in place; the forward pass continues with the outputs as the hook left them.
type convHook func(i int, outs [][]float32, hw int) error

// forwardBatch runs the backbone layer by layer over a whole batch of inputs ([3, size, size]
// each), so that a hook can look at one convolution's output over all images before the next
// convolution runs: what re-estimating BatchNorm statistics needs. Each convolution is an
// im2col + sgemm product; images are spread over workers goroutines. It returns the last
// stage's output per image and its spatial size.
func forwardBatch(ctx context.Context, bb *resnet.Backbone, xs [][]float32, size, workers int, hook convHook) ([][]float32, int, error) {
	return forwardBlocks(ctx, bb, xs, size, workers, hook, -1)
}

// forwardBlocks is forwardBatch stopped after the first blocks bottlenecks (all of them when
// blocks < 0; 0 stops after the stem's max pool). It returns that point's output per image
// and its spatial size.
func forwardBlocks(ctx context.Context, bb *resnet.Backbone, xs [][]float32, size, workers int, hook convHook, blocks int) ([][]float32, int, error) {
	if err := bb.Check(); err != nil {
		return nil, 0, err
	}
	for i, x := range xs {
		if len(x) != 3*size*size {
			return nil, 0, fmt.Errorf("backbone: input %d has %d values, want 3x%dx%d: %w", i, len(x), size, size, resnet.ErrShape)
		}
	}
	f := &batchForward{ctx: ctx, bb: bb, convs: bb.Arch.Convs(), hook: hook, workers: max(1, workers)}
	f.scratch = make([]scratch, f.workers)
	t := batch{c: 3, s: size, d: xs}
	t, err := f.conv(resnet.Stem, t)
	if err != nil {
		return nil, 0, err
	}
	relu(t)
	t = f.maxPool(t)
	for bi, blk := range bb.Arch.Bottlenecks() {
		if blocks >= 0 && bi >= blocks {
			break
		}
		y, err := f.conv(blk.Conv1, t)
		if err != nil {
			return nil, 0, err
		}
		relu(y)
		if y, err = f.conv(blk.Conv2, y); err != nil {
			return nil, 0, err
		}
		relu(y)
		if y, err = f.conv(blk.Conv3, y); err != nil {
			return nil, 0, err
		}
		short := t
		if blk.Downsample >= 0 {
			if short, err = f.conv(blk.Downsample, t); err != nil {
				return nil, 0, err
			}
		}
		f.each(len(y.d), func(n int, _ *scratch) {
			d, s := y.d[n], short.d[n]
			for i, v := range d {
				d[i] = max(v+s[i], 0)
			}
		})
		t = y
		// Activations are pointer-free, so a collection is cheap; without it the heap may
		// grow to twice the batch's live activations (GOGC), gigabytes for 256 images.
		runtime.GC()
	}
	return t.d, t.s, nil
}

// batch is one activation per image, each [c, s, s].
type batch struct {
	c, s int
	d    [][]float32
}

type scratch struct {
	col []float32
	ws  sgemm.Workspace
}

type batchForward struct {
	ctx     context.Context
	bb      *resnet.Backbone
	convs   []resnet.Conv
	hook    convHook
	workers int
	scratch []scratch
}

// each calls fn for images 0..n-1 on the workers, each worker with its own scratch space.
func (f *batchForward) each(n int, fn func(n int, s *scratch)) {
	if f.workers > 1 {
		defer sgemm.SingleThreaded()() // one BLAS thread per worker
	}
	var wg sync.WaitGroup
	for w := range min(f.workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += f.workers {
				fn(i, &f.scratch[w])
			}
		}()
	}
	wg.Wait()
}

func (f *batchForward) conv(i int, in batch) (batch, error) {
	if err := f.ctx.Err(); err != nil {
		return batch{}, err
	}
	c, w := f.convs[i], f.bb.Convs[i]
	os := c.OutSize(in.s)
	hw := os * os
	kk := c.In * c.Kernel * c.Kernel
	packed := sgemm.Pack(c.Out, kk, w.Weight, kk)
	out := batch{c: c.Out, s: os, d: make([][]float32, len(in.d))}
	direct := c.Kernel == 1 && c.Stride == 1 && c.Pad == 0
	f.each(len(in.d), func(n int, s *scratch) {
		b := in.d[n]
		if !direct {
			if cap(s.col) < kk*hw {
				s.col = make([]float32, kk*hw)
			}
			b = s.col[:kk*hw]
			im2col(b, in.d[n], c, in.s, os)
		}
		out.d[n] = make([]float32, c.Out*hw)
		packed.Mul(out.d[n], hw, b, hw, hw, w.Bias, false, &s.ws)
	})
	if f.hook != nil {
		if err := f.hook(i, out.d, hw); err != nil {
			return batch{}, err
		}
	}
	return out, nil
}

// im2col lays out the receptive fields of a [c.In, s, s] input as a [c.In*k*k, os*os] matrix,
// zero where the kernel reaches into the padding, matching a [Out, In, k, k] weight's rows.
func im2col(dst, src []float32, c resnet.Conv, s, os int) {
	k := c.Kernel
	row := 0
	for ci := range c.In {
		plane := src[ci*s*s : (ci+1)*s*s]
		for ky := range k {
			for kx := range k {
				d := dst[row*os*os : (row+1)*os*os]
				row++
				for oy := range os {
					iy := oy*c.Stride - c.Pad + ky
					line := d[oy*os : (oy+1)*os]
					if iy < 0 || iy >= s {
						clear(line)
						continue
					}
					srow := plane[iy*s : (iy+1)*s]
					for ox := range os {
						ix := ox*c.Stride - c.Pad + kx
						if ix >= 0 && ix < s {
							line[ox] = srow[ix]
						} else {
							line[ox] = 0
						}
					}
				}
			}
		}
	}
}

func relu(t batch) {
	for _, d := range t.d {
		for i, v := range d {
			if v < 0 {
				d[i] = 0
			}
		}
	}
}

// maxPool is 3x3, stride 2, pad 1, as in torchvision's stem; padding never wins.
func (f *batchForward) maxPool(in batch) batch {
	os := (in.s+2-3)/2 + 1
	out := batch{c: in.c, s: os, d: make([][]float32, len(in.d))}
	f.each(len(in.d), func(n int, _ *scratch) {
		src := in.d[n]
		dst := make([]float32, in.c*os*os)
		for c := range in.c {
			p := src[c*in.s*in.s : (c+1)*in.s*in.s]
			for oy := range os {
				for ox := range os {
					m := float32(math.Inf(-1))
					for ky := max(0, oy*2-1); ky <= min(in.s-1, oy*2+1); ky++ {
						for kx := max(0, ox*2-1); kx <= min(in.s-1, ox*2+1); kx++ {
							m = max(m, p[ky*in.s+kx])
						}
					}
					dst[(c*os+oy)*os+ox] = m
				}
			}
		}
		out.d[n] = dst
	})
	return out
}
