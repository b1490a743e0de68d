package head

import (
	"fmt"

	"pneumoscan/resnet"
)

// Head returns p as the contract's float32 head, with the standardisation n
// folded into FC1 and B1: W1'[k,u] = W1[k,u] / std_k and
// B1'[u] = B1[u] - sum_k mean_k / std_k W1[k,u], so the exported model takes
// raw pooled features.
func (p Params) Head(n Norm, dim, units int) (*resnet.Head, error) {
	if err := p.check(dim, units); err != nil {
		return nil, err
	}
	h := &resnet.Head{
		Features: dim, Hidden: units,
		FC1: make([]float32, dim*units), B1: make([]float32, units),
		FC2: make([]float32, units), B2: []float32{float32(p.B2[0])},
	}
	b1 := append([]float64(nil), p.B1...)
	for k := 0; k < dim; k++ {
		mean, std := 0.0, 1.0
		if len(n.Mean) > 0 {
			mean, std = n.Mean[k], n.Std[k]
		}
		for u := 0; u < units; u++ {
			w := p.W1[k*units+u] / std
			h.FC1[k*units+u] = float32(w)
			b1[u] -= mean * w
		}
	}
	for u := range units {
		h.B1[u] = float32(b1[u])
		h.FC2[u] = float32(p.W2[u])
	}
	if err := h.Check(); err != nil {
		return nil, fmt.Errorf("head: export: %w", err)
	}
	return h, nil
}

// Probs returns the head's P(pneumonia) for every example of d (no dropout),
// computed in float64 on the standardised features.
func (p Params) Probs(n Norm, units int, d Data) ([]float64, error) {
	if err := d.Check(len(p.W1) / max(units, 1)); err != nil {
		return nil, err
	}
	z := logits(p, n, units, d)
	for i, v := range z {
		z[i] = sigmoid(v)
	}
	return z, nil
}
