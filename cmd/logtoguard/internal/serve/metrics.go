package serve

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logtoguard/logtoguard/middleware"
)

// metrics are the gateway's Prometheus metrics, on their own registry:
//
//	logtoguard_decisions_total{result="allow"|"deny", reason}  decisions;
//	    reason is "authorized" or "public" for an allow, middleware.Reason
//	    of the error (or "no_route") for a deny
//	logtoguard_decision_seconds                                 decision latency
//	logtoguard_verified_total{cache="hit"|"miss"}               accepted tokens
//	logtoguard_key_fetches_total{issuer, result="ok"|"error"}   key fetches
//	logtoguard_config_reloads_total{result="ok"|"error"|"keys_not_ready"}
//	    SIGHUP reloads: "error" for a file with an error or a change only
//	    a restart applies (listen, grpc_listen, the revocation section),
//	    "keys_not_ready" when the new configuration's keys did not load in
//	    time (the running configuration stays in both cases)
//
// Every label has a bounded set of values: no claim of a token, no path and
// no header becomes a label.
type metrics struct {
	handler   http.Handler
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
	reloads   *prometheus.CounterVec
	hooks     middleware.Hooks

	allowed, public prometheus.Counter
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtoguard_decisions_total",
			Help: "Decisions, by result (allow or deny) and reason.",
		}, []string{"result", "reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logtoguard_decision_seconds",
			Help:    "Time to decide on a request, from its headers to the answer.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtoguard_config_reloads_total",
			Help: "Configuration reloads on SIGHUP, by result (ok, error, keys_not_ready).",
		}, []string{"result"}),
	}
	verified := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logtoguard_verified_total",
		Help: "Tokens accepted, by whether the verified-token cache answered.",
	}, []string{"cache"})
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logtoguard_key_fetches_total",
		Help: "Fetches of an issuer's signing keys, by result.",
	}, []string{"issuer", "result"})
	reg.MustRegister(m.decisions, m.latency, m.reloads, verified, fetches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.allowed = m.decisions.WithLabelValues("allow", "authorized")
	m.public = m.decisions.WithLabelValues("allow", "public")
	hit, miss := verified.WithLabelValues("hit"), verified.WithLabelValues("miss")
	m.hooks = middleware.Hooks{
		Verified: func(_ *middleware.Claims, cached bool) {
			if cached {
				hit.Inc()
			} else {
				miss.Inc()
			}
		},
		KeyFetch: func(issuer string, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			fetches.WithLabelValues(issuer, result).Inc()
		},
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// observe counts decision d, which took from start until now.
func (m *metrics) observe(d decision, start time.Time) {
	m.latency.Observe(time.Since(start).Seconds())
	switch {
	case d.err == nil && d.public:
		m.public.Inc()
	case d.err == nil:
		m.allowed.Inc()
	case d.err == errNoRoute:
		m.decisions.WithLabelValues("deny", "no_route").Inc()
	default:
		m.decisions.WithLabelValues("deny", middleware.Reason(d.err)).Inc()
	}
}
