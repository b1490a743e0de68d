package gpu

import (
	"fmt"
	"image"
	"image/draw"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"

	"pneumoscan/dataset"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/preprocess"
	"pneumoscan/training/augment"
)

// Images are decoded images held in memory with their labels, so that epochs never touch
// the disk or the JPEG decoder again: the accelerator is fed from RAM.
type Images struct {
	Pix    []*image.NRGBA
	Labels []int
}

// Decode reads and decodes items on all cores. Images come out opaque NRGBA, the layout
// preprocess.Tensor reads fastest.
func Decode(items []dataset.Item) (*Images, error) {
	im := &Images{Pix: make([]*image.NRGBA, len(items)), Labels: make([]int, len(items))}
	errs := make([]error, len(items))
	parallel(len(items), func(i int) {
		data, err := os.ReadFile(items[i].Path)
		if err != nil {
			errs[i] = err
			return
		}
		img, err := imagedecode.Decode(data)
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", items[i].Rel, err)
			return
		}
		im.Pix[i] = toNRGBA(img)
		im.Labels[i] = items[i].Label
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return im, nil
}

func toNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// opaque views an augmented RGBA image as NRGBA: augment's output is fully opaque (it
// samples opaque images and fills with opaque pixels), where the two layouts are equal.
func opaque(img *image.RGBA) *image.NRGBA {
	return &image.NRGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
}

// Batch is one batch of model inputs, float32 [N, 3, S, S], with labels and loss weights.
type Batch struct {
	X       []float32
	Y, W    []float32
	Indices []int // positions in the Images
}

// Feeder makes training batches: a seeded shuffle per epoch, augmentation and the model's
// preprocessing on all cores, a few batches ahead of the accelerator.
type Feeder struct {
	Images   *Images
	Pre      model.Preprocess
	Augment  augment.Params
	Weights  [2]float64 // class weights of the loss
	Batch    int
	Seed     uint64
	Prefetch int
}

// Epoch streams the full batches of one epoch (the remainder is dropped so that every step
// has the same shape and compiles once). Stop early by closing stop; the channel is closed
// when the epoch ends or on the first error, which is sent to errc.
func (f *Feeder) Epoch(epoch int, stop <-chan struct{}) (<-chan *Batch, <-chan error) {
	out := make(chan *Batch, max(f.Prefetch, 1))
	errc := make(chan error, 1)
	n := len(f.Images.Pix)
	order := rand.New(rand.NewPCG(f.Seed, uint64(epoch))).Perm(n)
	go func() {
		defer close(out)
		for start := 0; start+f.Batch <= n; start += f.Batch {
			b, err := f.make(order[start:start+f.Batch], epoch)
			if err != nil {
				errc <- err
				return
			}
			select {
			case out <- b:
			case <-stop:
				return
			}
		}
	}()
	return out, errc
}

func (f *Feeder) make(idx []int, epoch int) (*Batch, error) {
	s := f.Pre.Size
	per := 3 * s * s
	b := &Batch{X: make([]float32, len(idx)*per), Y: make([]float32, len(idx)), W: make([]float32, len(idx)), Indices: idx}
	errs := make([]error, len(idx))
	// The epoch is folded into the seed, the image index is the stream: results do not
	// depend on batch order or on the number of cores.
	seed := f.Seed*1_000_003 + uint64(epoch)
	parallel(len(idx), func(j int) {
		i := idx[j]
		var img image.Image = f.Images.Pix[i]
		if f.Augment != (augment.Params{}) {
			a, err := f.Augment.Augment(img, seed, uint64(i))
			if err != nil {
				errs[j] = err
				return
			}
			img = opaque(a)
		}
		t, err := preprocess.Tensor(img, f.Pre)
		if err != nil {
			errs[j] = err
			return
		}
		copy(b.X[j*per:], t)
		y := f.Images.Labels[i]
		b.Y[j] = float32(y)
		b.W[j] = float32(f.Weights[y])
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Tensors preprocesses images without augmentation (validation, parity), in order.
func Tensors(im *Images, pre model.Preprocess) ([]float32, error) {
	per := 3 * pre.Size * pre.Size
	x := make([]float32, len(im.Pix)*per)
	errs := make([]error, len(im.Pix))
	parallel(len(im.Pix), func(i int) {
		t, err := preprocess.Tensor(im.Pix[i], pre)
		if err != nil {
			errs[i] = err
			return
		}
		copy(x[i*per:], t)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

// parallel runs fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
