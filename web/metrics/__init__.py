"""Prometheus metrics: request counters measured in the web processes, plus job, queue and
self-check figures read from the database and the broker at scrape time (/core/metrics/)."""
