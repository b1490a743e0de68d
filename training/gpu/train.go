package gpu

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers/cosineschedule"

	"pneumoscan/metrics"
	"pneumoscan/resnet"
)

// Options of one training run.
type Options struct {
	Net Net
	LR  float64
	// WeightDecay > 0 makes Adam AdamW (decoupled decay, scaled by the learning rate): a
	// ResNet50 trained from scratch on 4,400 images overfits without it.
	WeightDecay float64
	// CosineSteps > 0 anneals the learning rate from LR to LR/100 over that many steps after
	// WarmupSteps of linear warm-up; 0 keeps LR constant.
	CosineSteps, WarmupSteps int
	// Calib holds clean (not augmented) train images, float32 [N, 3, Size, Size] flattened.
	// When set, BatchNorm's running averages are recomputed on them before every
	// validation, so that evaluation sees statistics of the final weights on images like the
	// ones it scores, not a moving average over augmented batches of older weights.
	Calib     []float32
	Epochs    int           // at most this many epochs
	Patience  int           // stop after this many epochs without a better validation AUC (0: never)
	Budget    time.Duration // stop before an epoch that would end after this (0: no limit)
	EvalBatch int
	Seed      int64
	Log       io.Writer
}

// EpochLog is one epoch's record.
type EpochLog struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"` // mean weighted BCE (+ L2) over the epoch's steps
	ValAUC    float64 `json:"val_auc"`
	Seconds   float64 `json:"seconds"`
	ImgPerSec float64 `json:"img_per_s"`
}

// Result is the best epoch's model (by validation ROC-AUC) and its validation scores.
type Result struct {
	Backbone  *resnet.Backbone
	Head      *resnet.Head
	BestEpoch int
	BestAUC   float64
	// Calibrated says whether BatchNorm averages were recomputed (Options.Calib) before
	// each validation, and so in the exported weights.
	Calibrated bool
	ValProbs   []float64 // sigmoid of the best model's validation logits
	History    []EpochLog
	Stopped    string // why training ended
}

// Trainer trains a Net on one backend.
type Trainer struct {
	Backend backends.Backend
	Ctx     *context.Context
	opt     Options
	trainer *train.Trainer
	pred    *Predictor
	calib   *Calibrator
}

// NewTrainer sets up the model, loss (class-weighted BCE on logits, weights given per
// example) and Adam.
func NewTrainer(backend backends.Backend, opt Options) (*Trainer, error) {
	if err := opt.Net.Validate(); err != nil {
		return nil, err
	}
	if opt.LR <= 0 || opt.EvalBatch <= 0 {
		return nil, fmt.Errorf("gpu: learning rate %v and eval batch %d must be positive", opt.LR, opt.EvalBatch)
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(opt.Seed); err != nil {
		return nil, err
	}
	if opt.WeightDecay < 0 || opt.CosineSteps < 0 || opt.WarmupSteps < 0 {
		return nil, fmt.Errorf("gpu: weight decay %v, cosine steps %d and warm-up steps %d must be >= 0",
			opt.WeightDecay, opt.CosineSteps, opt.WarmupSteps)
	}
	if opt.CosineSteps > 0 {
		ctx.SetParam(optimizers.ParamLearningRate, opt.LR)
		ctx.SetParam(cosineschedule.ParamPeriodSteps, opt.CosineSteps)
		ctx.SetParam(cosineschedule.ParamMinLearningRate, opt.LR/100)
		if opt.WarmupSteps > 0 {
			ctx.SetParam(cosineschedule.ParamWarmUpSteps, opt.WarmupSteps)
		}
	}
	n := opt.Net
	modelFn := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		if opt.CosineSteps > 0 {
			// Sets the learning-rate variable Adam reads; a no-op outside training graphs.
			cosineschedule.New(ctx, inputs[0].Graph(), dtypes.Float32).FromContext().Done()
		}
		return []*graph.Node{n.Logits(ctx, inputs[0])}
	}
	adam := optimizers.Adam().LearningRate(opt.LR)
	if opt.WeightDecay > 0 {
		adam = adam.WeightDecay(opt.WeightDecay)
	}
	tr := train.NewTrainer(backend, ctx, modelFn, losses.BinaryCrossentropyLogits, adam.Done(), nil, nil)
	pred, err := NewPredictor(backend, ctx, n)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Backend: backend, Ctx: ctx, opt: opt, trainer: tr, pred: pred}
	if len(opt.Calib) > 0 {
		if t.calib, err = NewCalibrator(backend, ctx, n, opt.EvalBatch); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Step runs one training step (forward, backward, Adam) and returns the batch loss.
func (t *Trainer) Step(x, y, w []float32) (float64, error) {
	s := t.opt.Net.Size
	n := len(y)
	xs := tensors.FromFlatDataAndDimensions(x, n, 3, s, s)
	ys := tensors.FromFlatDataAndDimensions(y, n)
	ws := tensors.FromFlatDataAndDimensions(w, n)
	defer xs.FinalizeAll()
	defer ys.FinalizeAll()
	defer ws.FinalizeAll()
	out, err := t.trainer.TrainStep("train", []*tensors.Tensor{xs}, []*tensors.Tensor{ys, ws})
	if err != nil {
		return 0, fmt.Errorf("gpu: train step: %w", err)
	}
	loss, err := scalar(out[0])
	for _, o := range out {
		o.FinalizeAll()
	}
	return loss, err
}

func scalar(t *tensors.Tensor) (float64, error) {
	v, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("gpu: want a scalar, got %d values", len(v))
	}
	return float64(v[0]), nil
}

// Logits returns the evaluation-mode logit of every image of x (float32 [N, 3, S, S]
// flattened), in batches of EvalBatch; the last batch is padded so that one graph serves
// every call.
func (t *Trainer) Logits(x []float32) ([]float64, error) {
	s := t.opt.Net.Size
	per := 3 * s * s
	n := len(x) / per
	eb := t.opt.EvalBatch
	out := make([]float64, 0, n)
	buf := make([]float32, eb*per)
	for start := 0; start < n; start += eb {
		end := min(start+eb, n)
		clear(buf)
		copy(buf, x[start*per:end*per])
		logits, err := t.pred.Logits(buf)
		if err != nil {
			return nil, err
		}
		for _, z := range logits[:end-start] {
			out = append(out, float64(z))
		}
	}
	return out, nil
}

func sigmoidAll(z []float64) []float64 {
	p := make([]float64, len(z))
	for i, v := range z {
		p[i] = 1 / (1 + math.Exp(-v))
	}
	return p
}

// Fit trains on the feeder's images, scores the validation tensors after every epoch and
// keeps the best epoch's folded weights.
func (t *Trainer) Fit(f *Feeder, valX []float32, valY []int) (*Result, error) {
	o := t.opt
	log := o.Log
	res := &Result{BestAUC: math.Inf(-1), Stopped: fmt.Sprintf("ran all %d epochs", o.Epochs)}
	start := time.Now()
	var last time.Duration // the latest epoch, without the first one's compilation once past it
	for epoch := 1; epoch <= o.Epochs; epoch++ {
		if o.Budget > 0 && epoch > 1 && time.Since(start)+last*6/5 > o.Budget {
			res.Stopped = fmt.Sprintf("time budget %v: next epoch would not fit", o.Budget)
			break
		}
		t0 := time.Now()
		stop := make(chan struct{})
		batches, errc := f.Epoch(epoch, stop)
		var sum float64
		steps, imgs := 0, 0
		for b := range batches {
			loss, err := t.Step(b.X, b.Y, b.W)
			if err != nil {
				close(stop)
				return nil, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				close(stop)
				return nil, fmt.Errorf("gpu: epoch %d step %d: loss is %v", epoch, steps+1, loss)
			}
			sum += loss
			steps++
			imgs += len(b.Y)
			if steps == 1 && epoch == 1 {
				fmt.Fprintf(log, "first step (includes compilation) done after %.1fs, loss %.4f\n", time.Since(t0).Seconds(), loss)
			}
		}
		close(stop)
		select {
		case err := <-errc:
			return nil, err
		default:
		}
		trainTime := time.Since(t0)
		if t.calib != nil {
			if err := t.calib.Recompute(o.Calib); err != nil {
				return nil, err
			}
		}
		// AUC on logits: ranks are the same, and logits of a badly calibrated network do
		// not saturate to ties the way float64 probabilities do beyond |logit| ~ 37.
		logits, err := t.Logits(valX)
		if err != nil {
			return nil, err
		}
		probs := sigmoidAll(logits)
		auc, err := metrics.AUC(logits, valY)
		if err != nil {
			return nil, err
		}
		el := EpochLog{Epoch: epoch, TrainLoss: sum / float64(max(steps, 1)), ValAUC: auc,
			Seconds: time.Since(t0).Seconds(), ImgPerSec: float64(imgs) / trainTime.Seconds()}
		res.History = append(res.History, el)
		mark := ""
		if auc > res.BestAUC {
			b, h, err := Fold(t.Ctx, o.Net)
			if err != nil {
				return nil, err
			}
			res.Backbone, res.Head, res.BestEpoch, res.BestAUC, res.ValProbs = b, h, epoch, auc, probs
			res.Calibrated = t.calib != nil
			mark = " *best"
		}
		fmt.Fprintf(log, "epoch %3d  loss %.4f  val AUC %.4f  %5.1fs  %6.0f img/s (train incl. feeding)%s\n",
			epoch, el.TrainLoss, auc, el.Seconds, el.ImgPerSec, mark)
		last = time.Since(t0)
		if o.Patience > 0 && epoch-res.BestEpoch >= o.Patience {
			res.Stopped = fmt.Sprintf("early stop: no better validation AUC for %d epochs", o.Patience)
			break
		}
	}
	if res.Backbone == nil {
		return nil, fmt.Errorf("gpu: no epoch finished")
	}
	fmt.Fprintf(log, "stopped: %s; best epoch %d, validation AUC %.4f, %.0fs\n", res.Stopped, res.BestEpoch, res.BestAUC, time.Since(start).Seconds())
	return res, nil
}

// Bench times full training steps on random inputs for each batch size after warm-up steps
// (the first includes compilation) and returns images per second. Host-to-device copies of
// each batch are included, as in training.
func Bench(backend backends.Backend, n Net, lr float64, batches []int, warm, steps int, log io.Writer) (map[int]float64, error) {
	rates := map[int]float64{}
	for _, bs := range batches {
		t, err := NewTrainer(backend, Options{Net: n, LR: lr, EvalBatch: bs, Seed: 1, Log: log})
		if err != nil {
			return nil, err
		}
		per := 3 * n.Size * n.Size
		x := make([]float32, bs*per)
		y := make([]float32, bs)
		w := make([]float32, bs)
		for i := range x {
			x[i] = float32((i*7919)%255)/127.5 - 1
		}
		for i := range y {
			y[i], w[i] = float32(i%2), 1
		}
		t0 := time.Now()
		for range warm {
			if _, err := t.Step(x, y, w); err != nil {
				return nil, fmt.Errorf("batch %d: %w", bs, err)
			}
		}
		warmT := time.Since(t0)
		t0 = time.Now()
		for range steps {
			if _, err := t.Step(x, y, w); err != nil {
				return nil, fmt.Errorf("batch %d: %w", bs, err)
			}
		}
		el := time.Since(t0)
		rates[bs] = float64(bs*steps) / el.Seconds()
		fmt.Fprintf(log, "bench batch %4d: warm-up %d steps %.1fs; %d steps %.2fs = %.1f ms/step, %.0f img/s\n",
			bs, warm, warmT.Seconds(), steps, el.Seconds(), 1000*el.Seconds()/float64(steps), rates[bs])
		t.Ctx.Finalize()
	}
	return rates, nil
}
