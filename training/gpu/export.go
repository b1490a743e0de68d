package gpu

import (
	"fmt"
	"math"
	"strings"

	"pneumoscan/dataset"
	"pneumoscan/metrics"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/training/operating"
)

// RunInfo is what the metadata says about how the model was trained.
type RunInfo struct {
	Name, Version string
	Device        string // e.g. "NVIDIA H200, XLA PJRT CUDA plugin"
	Batch         int
	Augment       string // augmentation parameters, as text
	Train, Val    int    // image counts
	ValFraction   float64
	SplitSeed     uint64
	Seed          int64
}

// Metadata fits the temperature and the two thresholds (operating.Points) on the validation
// probabilities of the best epoch and describes the run. The validation scores come from
// the float32 network; the int8 export's small error is not in them.
func Metadata(res *Result, valY []int, o Options, info RunInfo) (model.Metadata, error) {
	op, err := operating.Points(res.ValProbs, valY)
	if err != nil {
		return model.Metadata{}, err
	}
	ci, err := metrics.BootstrapAUC(res.ValProbs, valY, 1000, 0.95, 1)
	if err != nil {
		return model.Metadata{}, err
	}
	n := len(valY)
	m := map[string]float64{
		"val_auc": res.BestAUC, "val_auc_ci_lo": ci.Lo, "val_auc_ci_hi": ci.Hi,
		"val_images": float64(n), "train_images": float64(info.Train), "best_epoch": float64(res.BestEpoch),
		"epochs_run": float64(len(res.History)),
	}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k) // JSON has no NaN; a metric that is undefined is left out
		}
	}
	n0 := o.Net
	var d strings.Builder
	fmt.Fprintf(&d, "ResNet (%d features, input %d) trained end to end from random initial weights (no ImageNet weights) on %s with GoMLX/XLA: ",
		n0.Arch.Features(), n0.Size, info.Device)
	fmt.Fprintf(&d, "BatchNorm in training mode (folded into the convolutions for export), head Dense(%d, ReLU, L2 %.2g) -> Dropout(%.2f) -> Dense(1, sigmoid), ",
		n0.Hidden, n0.L2, n0.Dropout)
	opt := "Adam"
	if o.WeightDecay > 0 {
		opt = fmt.Sprintf("AdamW (weight decay %.2g)", o.WeightDecay)
	}
	sched := "constant"
	if o.CosineSteps > 0 {
		sched = fmt.Sprintf("%d warm-up steps then cosine to lr/100 over %d steps", o.WarmupSteps, o.CosineSteps)
	}
	bn := "BatchNorm moving averages"
	if res.Calibrated {
		bn = fmt.Sprintf("BatchNorm averages recomputed on %d clean train images before each validation", len(o.Calib)/(3*n0.Size*n0.Size))
	}
	fmt.Fprintf(&d, "class-weighted BCE, %s lr %.2g (%s), batch %d, augmentation %s, %s; best of %d epochs at epoch %d by validation ROC-AUC %.4f (%s). ",
		opt, o.LR, sched, info.Batch, info.Augment, bn, len(res.History), res.BestEpoch, res.BestAUC, res.Stopped)
	fmt.Fprintf(&d, "Data: patient-grouped validation split (fraction %.2f, seed %d), %d train / %d validation images. ",
		info.ValFraction, info.SplitSeed, info.Train, n)
	d.WriteString("Thresholds and temperature fitted on validation. Weights int8 per channel.")
	md := model.Metadata{
		Name: info.Name, Version: info.Version, Trained: true, Description: d.String(),
		Preprocess: model.ImageNetPreprocess(n0.Size),
		Classes:    []string{dataset.ClassDirs[dataset.Normal], dataset.ClassDirs[dataset.Pneumonia]},
		Thresholds: op.Thresholds, Operating: operating.Screening, Temperature: op.Temperature, Metrics: m,
	}
	return md, md.Validate()
}

// ONNX builds the int8 contract model of the best epoch.
func ONNX(res *Result, md model.Metadata) ([]byte, error) {
	mp, err := modelfile.Build(res.Backbone, res.Head, md)
	if err != nil {
		return nil, err
	}
	if mp, err = modelfile.Quantize(mp); err != nil {
		return nil, err
	}
	return modelfile.Marshal(mp)
}

// MaxRelDiff is max |a-b| / max |b|: the distance between two sets of logits relative to
// their scale (a per-element ratio would blow up on logits near zero).
func MaxRelDiff(a, b []float64) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		s = math.Max(s, math.Abs(b[i]))
	}
	return d / math.Max(s, 1e-12)
}
