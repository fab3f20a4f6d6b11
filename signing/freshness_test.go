package signing

import (
	"errors"
	"testing"
	"time"
)

func TestCheckFreshnessWalksTheEdges(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) *int64 { v := now.Add(d).Unix(); return &v }
	cases := []struct {
		name     string
		iat, exp *int64
		expired  bool
	}{
		{"no claims", nil, nil, false},
		{"exp one second ahead", nil, at(time.Second), false},
		{"exp now", nil, at(0), true},
		{"exp an hour ago", nil, at(-time.Hour), true},
		{"iat an hour ago", at(-time.Hour), nil, false},
		{"iat at the skew", at(ClockSkew), nil, false},
		{"iat a second past the skew", at(ClockSkew + time.Second), nil, true},
		{"fresh pair", at(-time.Second), at(time.Minute), false},
	}
	for _, c := range cases {
		err := CheckFreshness(c.iat, c.exp, now, "protected.cwt")
		var rej *Rejection
		if got := err != nil; got != c.expired {
			t.Errorf("%s: expired = %v, want %v (%v)", c.name, got, c.expired, err)
		}
		if err != nil && (!errors.As(err, &rej) || rej.Reason != ReasonExpired || rej.Field != "protected.cwt") {
			t.Errorf("%s: %v is not an expired rejection of protected.cwt", c.name, err)
		}
	}
}
