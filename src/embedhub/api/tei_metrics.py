"""TEI's Prometheus metrics (`te_*`), beside embedhub's own, so dashboards and alerts written
for text-embeddings-inference find their series here.

The names and labels are TEI's. TEI's exporter writes a counter's sample under the metric's
own name (`te_request_count`, no `_total`), which prometheus_client's Counter can't: those are
exposed untyped, under that exact name, so the queries written for TEI match."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# TEI's buckets: durations a geometric series from 15 us (x1.5), sizes and tokens powers of 2.
_DURATIONS = tuple(0.00001 * 1.5**i for i in range(1, 36))
_SIZES = tuple(float(2**i) for i in range(13))
_TOKENS = tuple(float(2**i) for i in range(21))


class PlainCounter(Collector):
    """A counter with one label, exposed as TEI exposes it: `name{label="..."} value`."""

    def __init__(self, name: str, documentation: str, label: str, registry: CollectorRegistry):
        self.name, self.documentation, self.label = name, documentation, label
        self._values: defaultdict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        registry.register(self)

    def inc(self, value: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[value] += amount

    def get(self, value: str) -> float:
        return self._values.get(value, 0.0)

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, "unknown")
        with self._lock:
            for value, total in sorted(self._values.items()):
                metric.add_sample(self.name, {self.label: value}, total)
        yield metric


class TeiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.request_count = PlainCounter(
            "te_request_count", "Inference requests received", "method", r
        )
        self.request_success = PlainCounter(
            "te_request_success", "Inference requests answered", "method", r
        )
        self.request_failure = PlainCounter(
            "te_request_failure", "Inference requests refused or failed, by cause", "err", r
        )

        def histogram(name: str, doc: str, buckets: tuple, labels: tuple = ()) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=r)

        self.request_duration = histogram("te_request_duration", "Request time", _DURATIONS)
        self.tokenization_duration = histogram(
            "te_request_tokenization_duration", "Tokenization time per request", _DURATIONS
        )
        self.queue_duration = histogram(
            "te_request_queue_duration", "Time a request waited for the model", _DURATIONS
        )
        self.inference_duration = histogram(
            "te_request_inference_duration", "Forward-pass time per request", _DURATIONS
        )
        self.input_length = histogram("te_request_input_length", "Tokens per input", _TOKENS)
        self.queue_size = Gauge(
            "te_queue_size", "Inputs waiting for a batch", ["model"], registry=r
        )
        self.batch_size = histogram(
            "te_batch_next_size", "Inputs per forward pass", _SIZES, ("model",)
        )
        self.batch_tokens = histogram(
            "te_batch_next_tokens", "Padded tokens per forward pass", _TOKENS, ("model",)
        )
        self.batch_duration = histogram(
            "te_batch_inference_duration", "Time of one forward pass", _DURATIONS, ("model",)
        )
