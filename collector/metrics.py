"""Prometheus metrics of the collector, read from its state at scrape time
(nothing is counted twice and the hot path pays nothing for them), and its
health for an orchestrator on the same port: ``/healthz`` (alive: its event
loop keeps turning) and ``/readyz`` (connected to the broker)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector as _PromCollector

if TYPE_CHECKING:
    from gudang.collector.service import Collector
    from gudang.collector.writer import DurableWriter

__all__ = ["CollectorMetrics", "serve_metrics"]


class CollectorMetrics(_PromCollector):
    def __init__(self, collector: Collector) -> None:
        self.c = collector
        self.writer: DurableWriter | None = None

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self.c
        messages = CounterMetricFamily(
            "gudang_collector_messages", "MQTT messages received, by outcome", labels=["outcome"]
        )
        duplicates = c.dedupe.duplicates
        accepted = c.received - c.dead_letters - duplicates - c.foreign
        messages.add_metric(["accepted"], accepted)
        messages.add_metric(["duplicate"], duplicates)
        messages.add_metric(["dead_letter"], c.dead_letters)
        messages.add_metric(["foreign"], c.foreign)
        yield messages
        dead = CounterMetricFamily(
            "gudang_collector_dead_letters", "Messages refused, by code", labels=["code"]
        )
        for code, n in sorted(c.dead_letter_codes.items()):
            dead.add_metric([code], n)
        yield dead
        yield CounterMetricFamily(
            "gudang_collector_messages_durable",
            "Readings and badge events stored (InfluxDB or the spool) and acknowledged",
            value=c.messages_durable,
        )
        stats = c.engine.stats
        movements = CounterMetricFamily(
            "gudang_collector_movements", "Movements recorded, by kind", labels=["kind"]
        )
        movements.add_metric(["pick_or_put"], stats.movements)
        movements.add_metric(["anomaly"], stats.anomalies)
        yield movements
        yield CounterMetricFamily(
            "gudang_collector_late_levels",
            "Stable levels too old for the movement window (stored, not used for movements)",
            value=stats.late_levels,
        )
        w = self.writer
        if w is not None:
            yield CounterMetricFamily(
                "gudang_collector_points_written",
                "Points written to InfluxDB",
                value=w.points_written,
            )
            yield CounterMetricFamily(
                "gudang_collector_batches_written",
                "Writes InfluxDB took (points_written / batches_written: points per write)",
                value=w.batches_written,
            )
            yield CounterMetricFamily(
                "gudang_collector_points_refused",
                "Points InfluxDB refused (4xx)",
                value=w.points_refused,
            )
            yield CounterMetricFamily(
                "gudang_collector_write_errors", "Failed InfluxDB writes", value=w.write_errors
            )
            yield GaugeMetricFamily(
                "gudang_collector_last_write_seconds",
                "Duration of the last successful InfluxDB write",
                value=w.last_write_s,
            )
            yield GaugeMetricFamily(
                "gudang_collector_last_batch_points",
                "Points in the last batch",
                value=w.last_batch_points,
            )
            yield GaugeMetricFamily(
                "gudang_collector_pending_points",
                "Points waiting for the next batch",
                value=w.pending,
            )
            yield GaugeMetricFamily(
                "gudang_collector_batches_unreleased",
                "Batches handed to InfluxDB (up to 3 writes at once) whose messages are "
                "not yet acknowledged",
                value=w.in_flight,
            )
        active = GaugeMetricFamily(
            "gudang_collector_alerts_active",
            "Active alerts, by kind and state",
            labels=["kind", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for alert in c.alerts.book.active.values():
            counts[(alert.kind, alert.state)] = counts.get((alert.kind, alert.state), 0) + 1
        for (kind, state), n in sorted(counts.items()):
            active.add_metric([kind, state], n)
        yield active
        notes = CounterMetricFamily(
            "gudang_collector_notifications", "Webhook and apprise deliveries", labels=["result"]
        )
        notes.add_metric(["delivered"], c.notifier.delivered)
        notes.add_metric(["failed"], c.notifier.failed)
        yield notes
        spool = c.spool
        yield GaugeMetricFamily(
            "gudang_collector_spool_points", "Points in the disk spool", value=spool.points
        )
        yield GaugeMetricFamily(
            "gudang_collector_spool_bytes", "Bytes in the disk spool", value=spool.bytes
        )
        yield GaugeMetricFamily(
            "gudang_collector_mqtt_connected",
            "1 while connected to the broker",
            value=int(c.connected),
        )


STALLED_AFTER_S = 60.0  # the collector's tick runs every 5 s: 12 missed is stuck


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes and probes every few seconds: not events


def health(c: Collector) -> tuple[bool, dict[str, object]]:
    """Alive: the event loop turned within ``STALLED_AFTER_S``."""
    idle = time.monotonic() - c.loop_seen
    return idle < STALLED_AFTER_S, {"alive": idle < STALLED_AFTER_S, "loop_idle_s": round(idle, 1)}


def readiness(metrics: CollectorMetrics) -> tuple[bool, dict[str, object]]:
    """Ready: connected to the broker (with InfluxDB down it still ingests,
    into its spool: said in the body, not a reason to be restarted)."""
    w = metrics.writer
    influx = w is not None and w.db_ready.is_set()
    return metrics.c.connected, {"ready": metrics.c.connected, "mqtt": metrics.c.connected,
                                 "influx": influx}  # fmt: skip


def serve_metrics(metrics: CollectorMetrics, host: str, port: int) -> None:
    """/metrics (Prometheus), /healthz and /readyz (JSON, 200 or 503), from a
    thread of its own: a stuck event loop cannot hide its own stall."""
    registry = CollectorRegistry()
    registry.register(metrics)
    prometheus = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/readyz"):
            return prometheus(environ, start)  # type: ignore[no-any-return]
        ok, body = health(metrics.c) if path == "/healthz" else readiness(metrics)
        start("200 OK" if ok else "503 Service Unavailable",
              [("Content-Type", "application/json")])  # fmt: skip
        return [json.dumps(body).encode()]

    server = make_server(host, port, app, _Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
