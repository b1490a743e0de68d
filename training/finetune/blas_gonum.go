//go:build !(openblas && cgo)

package finetune

// BLAS names the matrix product the graphs use: gonum's pure Go one, unless built with
// -tags openblas.
const BLAS = "gonum sgemm"
