"""Helpers for tests and benchmarks that run the real parts (shipped, like structlog.testing).

- ``GudangProcess``: one ``gudang <command>`` child with its settings in the
  environment, its log in a file, stopped with SIGTERM.
- ``MqttRecorder``: a real MQTT subscriber that keeps what it receives.
- ``wait_for``: poll a condition with a deadline (``wait_for_async`` in a coroutine).
- ``influx_rows``: an InfluxQL query's rows as dicts (tags included).
- ``ApiClient``: a running ``gudang api`` as a test reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gudang.services.child import GudangProcess
from gudang.settings import InfluxSettings, MqttSettings

__all__ = [
    "ApiClient",
    "GudangProcess",
    "MqttRecorder",
    "Step",
    "expected_movements",
    "http_ok",
    "influx_rows",
    "publish_all",
    "reading_stream",
    "service_env",
    "step_payloads",
    "wait_for",
    "wait_for_async",
]

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Return the first truthy value of `condition()`; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(interval)
        last = condition()
    return last


async def wait_for_async(
    condition: Callable[[], T], within: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """`wait_for` for coroutines: polls without blocking the event loop."""
    deadline = time.monotonic() + within
    last: T = condition()
    # Polling on purpose: the conditions are observable state (a spool, a
    # list) with no event to await, and a deadline bounds the wait.
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what or condition}")
        await asyncio.sleep(interval)
        last = condition()
    return last


def influx_rows(influx: InfluxSettings, query: str) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query (times in epoch ms), each with its series' tags;
    [] while the database does not exist yet."""
    body = httpx.get(
        f"{influx.url}/query", params={"db": influx.database, "q": query, "epoch": "ms"}, timeout=10
    ).json()
    rows = []
    for s in body["results"][0].get("series", []) or []:
        for v in s["values"]:
            rows.append({**s.get("tags", {}), **dict(zip(s["columns"], v, strict=True))})
    return rows


def http_ok(url: str, headers: dict[str, str] | None = None) -> bool:
    """GET `url` answers 200; False (not an error) while nothing listens yet."""
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def auth(token: str) -> dict[str, str]:
    """Request headers carrying an API key."""
    return {"Authorization": f"Bearer {token}"}


class ApiClient:
    """A running ``gudang api``, read with one key."""

    def __init__(self, base: str, key: str, proc: GudangProcess | None = None) -> None:
        self.base, self.key, self.proc = base, key, proc

    @classmethod
    def start(
        cls, spawn: Callable[..., GudangProcess], site: Path, key: str, **env: str
    ) -> ApiClient:
        """Start the API with `spawn` (the tests' fixture) on a free port; ready."""
        from gudang.services import free_port

        port = free_port()
        env.setdefault("GUDANG_API__LIVE_POLL_S", "0.2")
        proc = spawn("api", "--site", str(site), "--port", str(port), **env)
        api = cls(f"http://127.0.0.1:{port}", key, proc)
        wait_for(api.ready, timeout=30, what="api ready")
        return api

    def ready(self) -> bool:
        return http_ok(f"{self.base}/readyz")

    def get(self, path: str) -> Any:
        r = httpx.get(f"{self.base}{path}", headers=auth(self.key), timeout=10)
        r.raise_for_status()
        return r.json()

    def alerts(self) -> dict[tuple[str, str], str]:
        """Active alerts: (kind, subject) -> state."""
        return {(a["kind"], a["subject"]): a["state"] for a in self.get("/api/v1/alerts")["items"]}

    def device(self, device_id: str) -> dict[str, Any]:
        return next(d for d in self.get("/api/v1/devices")["items"] if d["id"] == device_id)

    def quantity(self, sku: str) -> float | None:
        return self.get(f"/api/v1/stock/{sku}")["quantity"]  # type: ignore[no-any-return]

    def reorder(self) -> list[str]:
        return [r["sku"] for r in self.get("/api/v1/reorder")["items"]]


def service_env(mqtt_s: MqttSettings, influx_s: InfluxSettings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GUDANG_MQTT__HOST=mqtt_s.host,
        GUDANG_MQTT__PORT=str(mqtt_s.port),
        GUDANG_INFLUX__URL=influx_s.url,
        GUDANG_INFLUX__DATABASE=influx_s.database,
        GUDANG_LOG_FORMAT="json",
        GUDANG_LOG_LEVEL="info",
    )
    env.update(extra)
    return env


class MqttRecorder:
    """Subscribes to `topics` on a real broker and records (topic, payload, retain)."""

    def __init__(
        self,
        settings: MqttSettings,
        topics: list[str],
        client_id: str = "",
        *,
        persistent: bool = False,
    ) -> None:
        """`persistent`: a fixed client id with a kept session, so that the broker
        queues messages for the recorder while it (or the broker) is down."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        if settings.username is not None:
            pw = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, pw)
        if settings.tls:
            self._client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._topics = topics
        self._client.on_connect = self._on_connect
        self._client.connect(settings.host, settings.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError(f"could not subscribe to {topics}")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        if self._topics:
            client.subscribe([(t, 1) for t in self._topics])
        else:  # a publish-only recorder
            self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic_suffix: str) -> list[dict[str, Any]]:
        """JSON payloads of messages whose topic ends with `topic_suffix`."""
        with self._lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(topic_suffix) and p]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def __enter__(self) -> MqttRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Mqtt5Session:
    """One MQTT 5 connection as a given user: what the broker answered."""

    client: mqtt.Client
    connack: list[tuple[int, Any]]  # (reason code, CONNACK properties)
    acks: list[int]  # PUBACK reason codes, in order
    dropped: list[bool]  # the broker disconnected us

    def publish(self, topic: str, payload: bytes, timeout: float = 30) -> None:
        """QoS 1; returns once acknowledged or disconnected."""
        before = len(self.acks)
        self.client.publish(topic, payload, qos=1)
        wait_for(lambda: len(self.acks) > before or self.dropped, timeout=timeout,
                 what="PUBACK or disconnect")  # fmt: skip


@contextlib.contextmanager
def mqtt5_session(
    port: int,
    user: str | None,
    password: str | None,
    client_id: str = "",
    *,
    clean_start: bool = True,
) -> Iterator[Mqtt5Session]:
    """Connect to a broker on loopback as `user` (MQTT 5), wait for the CONNACK."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    session = Mqtt5Session(c, [], [], [])
    c.on_connect = lambda _c, _u, _f, rc, props: session.connack.append((rc.value, props))
    c.on_publish = lambda _c, _u, _mid, rc, _p: session.acks.append(rc.value)
    c.on_disconnect = lambda *_a: session.dropped.append(True)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
    c.loop_start()
    try:
        wait_for(lambda: session.connack, what="CONNACK")
        yield session
    finally:
        c.loop_stop()
        c.disconnect()


def publish_all(
    settings: MqttSettings,
    messages: list[tuple[str, bytes]],
    *,
    max_inflight: int = 1000,
    budget_s: float = 300.0,
    client_id: str = "",
    rate: float | None = None,
    sent: list[int] | None = None,
) -> float:
    """Publish at QoS 1 with at most `max_inflight` unacknowledged (paho refuses
    more than 65,535), at most `rate` messages a second if given; returns the
    seconds it took until every PUBACK arrived. `sent[0]` counts the messages
    handed to the broker so far (for a test to wait on)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    window = threading.BoundedSemaphore(max_inflight)
    client.on_publish = lambda *a: window.release()
    client.connect(settings.host, settings.port)
    client.loop_start()
    started = time.perf_counter()
    deadline = started + budget_s
    try:
        for n, (topic, payload) in enumerate(messages):
            if not window.acquire(timeout=max(0.0, deadline - time.perf_counter())):
                raise AssertionError(f"publishing exceeded {budget_s} s at message {n}")
            info = client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise AssertionError(f"publish refused: rc={info.rc}")
            if sent is not None:
                sent[0] = n + 1
            if rate is not None and (ahead := started + (n + 1) / rate - time.perf_counter()) > 0:
                time.sleep(ahead)
        for _ in range(max_inflight):  # every PUBACK back
            if not window.acquire(timeout=max(0.0, deadline - time.perf_counter())):
                raise AssertionError("PUBACKs missing at the end")
        return time.perf_counter() - started
    finally:
        client.loop_stop()
        client.disconnect()


@dataclass(frozen=True)
class Step:
    """One stable level of a simulated bin, and the pick or put that led to it."""

    device: str
    seq: int
    ts: int
    gross_kg: float
    pieces: int  # 0 for a heartbeat at the same level


def reading_stream(
    devices: list[str],
    steps: int,
    *,
    unit_weight: float = 7.4,
    tare: float = 60.0,
    start_pieces: int = 200,
    t0: int = 1_764_000_000_000,
    seed: int = 7,
) -> list[Step]:
    """Per device: stable levels after random picks and puts of whole pieces,
    with heartbeats in between; in time order, seqs from 0 per device."""
    rng = random.Random(seed)
    out: list[Step] = []
    pieces = dict.fromkeys(devices, start_pieces)
    for n in range(steps):
        for i, dev in enumerate(devices):
            delta = 0 if n == 0 or rng.random() < 0.3 else rng.choice([-3, -2, -1, 1, 2, 4])
            if pieces[dev] + delta < 0:
                delta = 0
            pieces[dev] += delta
            gross = round(tare + pieces[dev] * unit_weight, 1)
            out.append(Step(dev, n, t0 + n * 1000 + i, gross, delta))
    return out


def expected_movements(steps: list[Step]) -> set[tuple[str, int, int]]:
    """(device, ts, pieces) of every pick and put in the stream."""
    return {(s.device, s.ts, s.pieces) for s in steps if s.pieces}


def step_payloads(site_id: str, steps: list[Step], boot: str = "b1") -> list[tuple[str, bytes]]:
    from gudang.contract import WeightReading

    return [
        (
            f"gudang/v1/{site_id}/device/{s.device}/reading",
            WeightReading(
                device_id=s.device, boot_id=boot, seq=s.seq, ts=s.ts, weight=s.gross_kg,
                unit="kg", stable=True, reason="change" if s.pieces else "heartbeat",
            ).model_dump_json().encode(),
        )
        for s in steps
    ]  # fmt: skip


class HookReceiver:
    """A local HTTP endpoint recording webhook POSTs (headers, body); POSTs to
    /apprise* are apprise's json:// notifications (parsed). The first
    `refuse_first` webhook POSTs get a 500, to exercise retries."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.apprise: list[dict[str, Any]] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 204
                if self.path.startswith("/apprise"):
                    outer.apprise.append(json.loads(body))
                elif outer.refused < refuse_first:
                    outer.refused += 1
                    status = 500
                else:
                    outer.received.append((dict(self.headers), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/gudang"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
