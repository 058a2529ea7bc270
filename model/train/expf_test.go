package train

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if r := math.Abs(got-want) / want; r > worst {
			worst = r
		}
	}
	if worst > 4e-7 {
		t.Errorf("expf: worst relative error %.3g, want ≤ 4e-7", worst)
	}
	for _, c := range []struct{ x, want float32 }{{-100, 0}, {0, 1}} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if !math.IsInf(float64(expf(100)), 1) {
		t.Error("expf(100) is not +Inf")
	}
}
