package gpu
import (
 _ "github.com/gomlx/gomlx/backends/default"
 _ "github.com/gomlx/gomlx/pkg/ml/context"
 _ "github.com/gomlx/gomlx/pkg/ml/train"
 _ "github.com/gomlx/gomlx/pkg/ml/train/optimizers"
 _ "github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
)
