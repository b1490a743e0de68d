// Package gpu trains the pneumoscan classifier end to end (backbone and head) with GoMLX,
// on whatever backend GoMLX is given: XLA with a CUDA PJRT plugin on a GPU machine, or
// GoMLX's pure-Go backend for forward passes in tests. It then folds each BatchNorm into its
// convolution and hands the weights to modelconv/modelfile, so the exported model is the
// same contract ONNX file the CPU trainer writes.
//
// The network is the one in package resnet (torchvision ResNet v1.5 layout, any Arch), with
// BatchNorm after every convolution in training mode (batch statistics, running averages for
// evaluation), and the contract's head: GlobalAveragePool -> Dense(U, ReLU, L2) -> Dropout ->
// Dense(1), sigmoid.
package gpu

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"pneumoscan/resnet"
)

// BatchNorm settings are PyTorch's, so that running averages mean what they mean there.
const (
	bnEpsilon  = 1e-5
	bnMomentum = 0.9 // weight of the old average (PyTorch's momentum 0.1)
)

// Variable scopes: every convolution lives in a scope named after its torchvision module
// (for example "layer1.0.conv2"), its BatchNorm in the sub-scope bnScope; the head in
// headScope.
const (
	bnScope   = batchnorm.BatchNormalizationScopeName
	headScope = "head"
)

// Net is the classifier's shape and regularisation.
type Net struct {
	Arch    resnet.Arch
	Size    int     // input side, from the model's preprocessing metadata
	Hidden  int     // units of the first dense layer
	Dropout float64 // dropout rate between the dense layers, in training only
	L2      float64 // L2 penalty on the first dense layer's weights
}

// Validate reports a Net that cannot be built.
func (n Net) Validate() error {
	if err := n.Arch.Validate(); err != nil {
		return err
	}
	if n.Size < 32 || n.Hidden <= 0 || n.Dropout < 0 || n.Dropout >= 1 || n.L2 < 0 {
		return fmt.Errorf("gpu: bad net: size %d (>= 32), hidden %d (> 0), dropout %v ([0,1)), l2 %v (>= 0)",
			n.Size, n.Hidden, n.Dropout, n.L2)
	}
	if n.Arch.FeatureSize(n.Size) < 1 {
		return fmt.Errorf("gpu: input size %d is too small for the architecture", n.Size)
	}
	return nil
}

// Logits builds the network on x, float32 [batch, 3, Size, Size] already normalised (the
// preprocess package's layout, stacked), and returns the logits [batch]. In a training graph
// (ctx.IsTraining) BatchNorm uses batch statistics and updates its running averages, dropout
// is on and the L2 penalty is added to the loss.
func (n Net) Logits(ctx *context.Context, x *Node) *Node {
	g := x.Graph()
	// Channels last inside: GoMLX's default layout; XLA picks the device layout anyway.
	x = TransposeAllDims(x, 0, 2, 3, 1)
	convs := n.Arch.Convs()
	convBN := func(i int, in *Node) *Node {
		c := convs[i]
		cctx := ctx.In(c.Name)
		// He-normal on fan-in, torchvision's choice for ReLU networks.
		std := math.Sqrt(2 / float64(c.In*c.Kernel*c.Kernel))
		w := cctx.WithInitializer(initializers.RandomNormalFn(cctx, std)).
			VariableWithShape("weight", shapes.Make(dtypes.Float32, c.Kernel, c.Kernel, c.In, c.Out)).ValueGraph(g)
		y := Convolve(in, w).Strides(c.Stride).PaddingPerDim([][2]int{{c.Pad, c.Pad}, {c.Pad, c.Pad}}).Done()
		return batchnorm.New(cctx, y, -1).Momentum(bnMomentum).Epsilon(bnEpsilon).
			UseBackendInference(false).Done() // plain ops: differentiable, and every backend has them
	}
	x = relu(convBN(resnet.Stem, x))
	// 3x3 stride-2 max pool, pad 1: it follows a ReLU, so zero padding equals -inf padding.
	x = MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	for _, blk := range n.Arch.Bottlenecks() {
		y := relu(convBN(blk.Conv1, x))
		y = relu(convBN(blk.Conv2, y))
		y = convBN(blk.Conv3, y)
		short := x
		if blk.Downsample >= 0 {
			short = convBN(blk.Downsample, x)
		}
		x = relu(Add(y, short))
	}
	pooled := ReduceMean(x, 1, 2) // [batch, features]
	return n.head(ctx.In(headScope), pooled)
}

func relu(x *Node) *Node { return Max(x, ZerosLike(x)) }

// head is Dense(Hidden, ReLU) -> Dropout -> Dense(1) on pooled features, in the contract's
// MatMul layout (fc1 [features, hidden], fc2 [hidden, 1]).
func (n Net) head(ctx *context.Context, pooled *Node) *Node {
	g := pooled.Graph()
	f := n.Arch.Features()
	w1 := ctx.In("fc1").WithInitializer(initializers.RandomNormalFn(ctx, math.Sqrt(2/float64(f)))).
		VariableWithShape("weight", shapes.Make(dtypes.Float32, f, n.Hidden)).ValueGraph(g)
	b1 := ctx.In("fc1").WithInitializer(initializers.Zero).
		VariableWithShape("bias", shapes.Make(dtypes.Float32, n.Hidden)).ValueGraph(g)
	w2 := ctx.In("fc2").WithInitializer(initializers.RandomNormalFn(ctx, math.Sqrt(1/float64(n.Hidden)))).
		VariableWithShape("weight", shapes.Make(dtypes.Float32, n.Hidden, 1)).ValueGraph(g)
	b2 := ctx.In("fc2").WithInitializer(initializers.Zero).
		VariableWithShape("bias", shapes.Make(dtypes.Float32, 1)).ValueGraph(g)
	h := relu(Add(Dot(pooled, w1), ExpandAxes(b1, 0)))
	if ctx.IsTraining(g) {
		h = layers.DropoutStatic(ctx, h, n.Dropout)
		if n.L2 > 0 {
			train.AddLoss(ctx, MulScalar(ReduceAllSum(Square(w1)), n.L2))
		}
	}
	logit := Add(Dot(h, w2), ExpandAxes(b2, 0)) // [batch, 1]
	return Reshape(logit, logit.Shape().Dimensions[0])
}
