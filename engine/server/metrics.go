package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// (several servers in one process, as in tests, do not collide).
type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	denied      *prometheus.CounterVec
	runs        *prometheus.CounterVec
	tasksPolled *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wfrun_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_secret_reads_denied_total", Help: "Secret operations refused for lack of scope, by API.",
		}, []string{"api"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_runs_total", Help: "Workflow runs that reached a status (RUNNING when started).",
		}, []string{"status"}),
		tasksPolled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_tasks_polled_total", Help: "Tasks handed to remote workers, by task name.",
		}, []string{"task"}),
	}
	reg.MustRegister(m.requests, m.latency, m.denied, m.runs, m.tasksPolled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}
