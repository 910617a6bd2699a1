"""Prometheus metrics, in a registry owned by one app instance (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The counters a Citestream process exposes on `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.active_streams = Gauge(
            "citestream_active_streams",
            "Answers being streamed right now.",
            registry=self.registry,
        )
        self.answers_starting = Gauge(
            "citestream_answers_starting",
            "Answers starting right now: condensing, retrieving, building the prompt.",
            registry=self.registry,
        )
        self.answers_waiting_to_start = Gauge(
            "citestream_answers_waiting_to_start",
            "Answers waiting for their turn to start (CITESTREAM_CHAT__MAX_STARTING_ANSWERS).",
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "citestream_llm_tokens",
            "Tokens the language model produced, whether or not they reached a client.",
            registry=self.registry,
        )
        self.streams = Counter(
            "citestream_streams",
            "Answers by how they ended.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("completed", "cancelled", "error"):
            self.streams.labels(outcome=outcome)
        self.time_to_first_token = Histogram(
            "citestream_time_to_first_token_seconds",
            "From the request reaching the service to the first answer token.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

        self.cache_requests = Counter(
            "citestream_cache_requests",
            "Reads of the conversation cache, by result (hit, miss, error).",
            ["result"],
            registry=self.registry,
        )
        for result in ("hit", "miss", "error"):
            self.cache_requests.labels(result=result)
        self.cache_errors = Counter(
            "citestream_cache_errors",
            "Cache operations that failed (Redis unreachable); requests fell back to the database.",
            registry=self.registry,
        )

        self.runs_active = Gauge(
            "citestream_runs_active", "Runs executing in this process.", registry=self.registry
        )
        self.runs_kept = Gauge(
            "citestream_runs_kept",
            "Ended runs this process keeps in memory for resumes.",
            registry=self.registry,
        )
        self.runs = Counter(
            "citestream_runs",
            "Runs by how they ended.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("completed", "cancelled", "failed"):
            self.runs.labels(outcome=outcome)
        self.run_listeners = Gauge(
            "citestream_run_listeners",
            "Connections following a run of this process.",
            registry=self.registry,
        )
        self.run_replayed_events = Counter(
            "citestream_run_replayed_events",
            "Events sent again to listeners that resumed a run.",
            registry=self.registry,
        )
        self.run_cancels = Counter(
            "citestream_run_cancels",
            "Runs cancelled, by who asked: api, disconnect, orphaned, shutdown.",
            ["origin"],
            registry=self.registry,
        )
        for origin in ("api", "disconnect", "orphaned", "shutdown"):
            self.run_cancels.labels(origin=origin)
        self.storage_retries = Counter(
            "citestream_storage_retries",
            "Writes of a finished turn that were tried again after a database error.",
            registry=self.registry,
        )

        self.admission_rejections = Counter(
            "citestream_admission_rejections",
            "Requests refused by admission control, by the limit they hit: request_rate and "
            "work_rate (429 rate_limited), concurrent_runs (429 too_many_runs), generations "
            "(503 overloaded).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("request_rate", "work_rate", "concurrent_runs", "generations"):
            self.admission_rejections.labels(reason=reason)
        self.admission_store_errors = Counter(
            "citestream_admission_store_errors",
            "Admission checks Redis could not answer; this worker enforced them in-process.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
