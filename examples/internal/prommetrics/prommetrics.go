// Package prommetrics exports logtoguard's hooks as Prometheus metrics: one
// way to wire middleware.Hooks to a metrics system, kept in the examples so
// that the library itself depends on none.
package prommetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logtoguard/logtoguard/middleware"
)

// Hooks registers the metrics on reg and returns the hooks that count into
// them:
//
//	logtoguard_verified_total{cache="hit"|"miss"}   accepted tokens
//	logtoguard_rejected_total{reason="expired"|...}  rejections, by middleware.Reason
//	logtoguard_key_fetches_total{issuer, result="ok"|"error"}
//
// Every label has a bounded set of values: reasons are a fixed list and
// issuers are the configured ones; no claim of the token becomes a label.
func Hooks(reg prometheus.Registerer) middleware.Hooks {
	verified := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logtoguard_verified_total",
		Help: "Tokens accepted, by whether the verified-token cache answered.",
	}, []string{"cache"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logtoguard_rejected_total",
		Help: "Requests rejected, by reason.",
	}, []string{"reason"})
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logtoguard_key_fetches_total",
		Help: "Fetches of an issuer's signing keys, by result.",
	}, []string{"issuer", "result"})
	reg.MustRegister(verified, rejected, fetches)
	hit, miss := verified.WithLabelValues("hit"), verified.WithLabelValues("miss")
	return middleware.Hooks{
		Verified: func(_ *middleware.Claims, cached bool) {
			if cached {
				hit.Inc()
			} else {
				miss.Inc()
			}
		},
		Rejected: func(err error) { rejected.WithLabelValues(middleware.Reason(err)).Inc() },
		KeyFetch: func(issuer string, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			fetches.WithLabelValues(issuer, result).Inc()
		},
	}
}
