"""Helpers for tests and benchmarks that run the real parts (shipped, like structlog.testing).

- ``GudangProcess``: one ``gudang <command>`` child with its settings in the
  environment, its log in a file, stopped with SIGTERM.
- ``MqttRecorder``: a real MQTT subscriber that keeps what it receives.
- ``wait_for``: poll a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gudang.services.process import die_with_parent
from gudang.settings import InfluxSettings, MqttSettings

__all__ = ["GudangProcess", "MqttRecorder", "service_env", "wait_for"]

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


class GudangProcess:
    """``gudang <args>`` as a child process; ``stop()`` returns its exit status."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gudang.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def events(self) -> list[dict[str, Any]]:
        """The structured log lines written so far."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class MqttRecorder:
    """Subscribes to `topics` on a real broker and records (topic, payload, retain)."""

    def __init__(self, settings: MqttSettings, topics: list[str], client_id: str = "") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
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
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

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
