package ingest

import (
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// CountRetries wraps a retry policy so that every retry the Data Cloud client makes is
// counted in the Retries metric.
func CountRetries(p datacloud.RetryPolicy, m *obs.Metrics) datacloud.RetryPolicy {
	return countingPolicy{p: p, m: m}
}

type countingPolicy struct {
	p datacloud.RetryPolicy
	m *obs.Metrics
}

func (c countingPolicy) Backoff(attempt int, err error) (time.Duration, bool) {
	d, ok := c.p.Backoff(attempt, err)
	if ok {
		c.m.Count(obs.Retries, 1)
	}
	return d, ok
}
