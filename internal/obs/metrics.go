package obs

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "DataCloudBridge"

// Metric names (one vocabulary for every function).
const (
	RecordsSent    = "RecordsSent"
	BytesSent      = "BytesSent"
	FailedObjects  = "FailedObjects"
	Retries        = "Retries"
	TokenRefreshes = "TokenRefreshes"
	QueryRows      = "QueryRows"
)

// units maps metric names to CloudWatch units; names not listed are counts.
var units = map[string]string{BytesSent: "Bytes"}

// Metrics accumulates counters during one invocation and writes them as one CloudWatch
// Embedded Metric Format line, which CloudWatch Logs turns into metrics without any API call
// (no PutMetricData latency or IAM permission in the function). Safe for concurrent use.
type Metrics struct {
	function string
	now      func() time.Time

	mu     sync.Mutex
	names  []string // first-use order, so lines are stable
	values map[string]int64
}

// NewMetrics returns counters for the function named function (the "Function" dimension).
func NewMetrics(function string) *Metrics {
	return &Metrics{function: function, now: time.Now, values: map[string]int64{}}
}

// WithClock sets the clock used for the EMF timestamp (tests).
func (m *Metrics) WithClock(now func() time.Time) *Metrics {
	m.now = now
	return m
}

// Count adds n to the counter name. A counter touched with n = 0 is still emitted (as 0),
// which keeps CloudWatch graphs continuous.
func (m *Metrics) Count(name string, n int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.values[name]; !ok {
		m.names = append(m.names, name)
	}
	m.values[name] += n
}

// Value returns the current value of a counter (tests, logs).
func (m *Metrics) Value(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[name]
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// Flush writes the counters as one EMF line to w (stdout in Lambda) and resets them. With
// no counters it writes nothing.
func (m *Metrics) Flush(w io.Writer) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	names, values := m.names, m.values
	m.names, m.values = nil, map[string]int64{}
	m.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	doc := map[string]any{"Function": m.function}
	dir := emfDirective{Namespace: Namespace, Dimensions: [][]string{{"Function"}}}
	for _, n := range names {
		unit := units[n]
		if unit == "" {
			unit = "Count"
		}
		dir.Metrics = append(dir.Metrics, emfMetric{Name: n, Unit: unit})
		doc[n] = values[n]
	}
	doc["_aws"] = emfMeta{Timestamp: m.now().UnixMilli(), CloudWatchMetrics: []emfDirective{dir}}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("datacloud: write metrics: %w", err)
	}
	// One Write call per line keeps the line whole next to concurrent log output.
	if _, err := w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("datacloud: write metrics: %w", err)
	}
	return nil
}
