"""Security with the shipped configuration and real services: what an attacker
on the plant network, holding one edge's broker password, can no longer do."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from gudang.acl import acl
from gudang.contract import WeightReading, now_ms
from gudang.contract.messages import MAX_MESSAGE_BYTES
from gudang.services import MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import parse_site
from gudang.testing import GudangProcess, MqttRecorder, influx_rows, mqtt5_session, wait_for

SITE = """\
site: {{id: {site_id}, name: Security}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/1, edge: edge-1}}
skus:
  - {{id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 5}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}}
"""  # fmt: skip
USERS = {"collector": "c-pw", "api": "a-pw", "edge-1": "e1-pw", "monitor": "m-pw"}


def _take_over(port: int, client_id: str) -> int:
    """Connect as edge-1 with `client_id` and a clean start (which wipes a
    session of that id), then leave; the CONNACK reason code."""
    with mqtt5_session(port, "edge-1", USERS["edge-1"], client_id) as session:
        return session.connack[0][0]


def test_no_broker_user_can_take_over_the_collectors_session(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    shipped_broker: Callable[..., MosquittoServer],
    influx_settings: InfluxSettings,
) -> None:
    """edge-1's password and the collector's client id, with a clean start:
    on the old config this kicked the collector and wiped its queued
    readings (100 queued, 0 stored). Now the broker files the session under
    edge-1: the collector stays connected and gets every reading."""
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(site_id=site_id))
    broker = shipped_broker(tmp_path / "broker", acl(parse_site(site.read_text())), USERS)
    env = {"GUDANG_MQTT__PORT": str(broker.port), "GUDANG_MQTT__USERNAME": "collector",
           "GUDANG_MQTT__PASSWORD": USERS["collector"]}  # fmt: skip
    collector = spawn("collector", "--site", str(site), **env)
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    victim = f"gudang-collector-{site_id}"
    assert _take_over(broker.port, victim) == 0  # allowed in, as its own session
    assert collector.stop() == 0  # away: the broker queues for it

    edge = MqttSettings(host=broker.host, port=broker.port, username="edge-1",
                        password=USERS["edge-1"])  # fmt: skip
    t0 = now_ms() - 60_000
    with MqttRecorder(edge, []) as rec:
        for i in range(100):
            r = WeightReading(device_id="scale-1", boot_id="b1", seq=i, ts=t0 + i * 100,
                              weight=60 + 7.4 * (100 - i), unit="kg", stable=True,
                              reason="change")  # fmt: skip
            rec.publish(f"gudang/v1/{site_id}/device/scale-1/reading", r.model_dump_json())
    assert _take_over(broker.port, victim) == 0  # the wipe attempt, while it is away

    collector = spawn("collector", "--site", str(site), **env)
    query = 'SELECT count("seq") FROM "reading"'
    rows = wait_for(
        lambda: (r := influx_rows(influx_settings, query)) and r[0]["count"] == 100 and r,
        timeout=30,
        what="all 100 queued readings stored",
    )
    assert rows[0]["count"] == 100
    assert not [e for e in collector.events() if e["event"] == "mqtt_disconnected"]
    assert collector.stop() == 0


def test_an_oversize_message_is_refused_to_its_publisher_not_dropped_silently(
    tmp_path: Path, site_id: str, shipped_broker: Callable[..., MosquittoServer]
) -> None:
    """A 10 MB reading: an MQTT 5 publisher is told the limit in the CONNACK
    and, sending anyway, is disconnected without an acknowledgement; nothing
    reaches the collector's subscription. A message at the limit still does."""
    site = SITE.format(site_id=site_id)
    broker = shipped_broker(tmp_path / "broker", acl(parse_site(site)), USERS)
    topic = f"gudang/v1/{site_id}/device/scale-1/reading"
    collector = MqttSettings(host=broker.host, port=broker.port, username="collector",
                             password=USERS["collector"])  # fmt: skip
    with MqttRecorder(collector, [topic]) as sub:
        limit, acked, dropped = _publish_as_edge(broker.port, topic, b"x" * 10_000_000)
        assert limit >= MAX_MESSAGE_BYTES and limit < 10_000_000
        assert acked == [] and dropped
        limit, acked, dropped = _publish_as_edge(broker.port, topic, b"x" * MAX_MESSAGE_BYTES)
        assert acked == [0] and not dropped
        wait_for(lambda: sub.messages, what="the message at the limit")
        assert [len(p) for _, p, _ in sub.messages] == [MAX_MESSAGE_BYTES]


def _publish_as_edge(port: int, topic: str, payload: bytes) -> tuple[int, list[int], bool]:
    """Publish once as edge-1 (MQTT 5, QoS 1): the maximum packet size the
    broker announced, the PUBACK reason codes, and whether it disconnected us."""
    with mqtt5_session(port, "edge-1", USERS["edge-1"]) as session:
        session.publish(topic, payload)
        limit = getattr(session.connack[0][1], "MaximumPacketSize", 0)
        return limit, session.acks, bool(session.dropped)


TIME_ENDPOINTS = [
    ("/api/v1/alerts", {"state": "history"}),
    ("/api/v1/stock/RB/history", {}),
    ("/api/v1/bins/C1/history", {}),
    ("/api/v1/movements", {}),
]
ODD_TIMES = [
    "\u00b2", "1" * 5000, "1e20", "100000000000000000000", "-1", "9999-12-31T23:59:59",
    "0001-01-01", "2200-01-01T00:00:00Z", "NaN", "", " ", "2026-13-45", "\\u0000", "1" * 16,
    "\uff12\uff10\uff12\uff16", "2026-11-30T10:00:00+25:00", "\uff11\uff12\uff13",  # full-width digits
]  # fmt: skip


def test_odd_time_input_is_a_4xx_naming_the_field_never_a_5xx(
    tmp_path: Path, site_id: str, spawn: Callable[..., GudangProcess], api_keys: dict[str, str]
) -> None:
    """Every time parameter of every endpoint, with hand-picked probes (those
    the field trial sent: 500s and a 503 that blamed the database) and then
    hypothesis' text: 200 or 422, and a 422 names the parameter."""
    import httpx
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gudang.testing import ApiClient, auth

    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(site_id=site_id))
    api = ApiClient.start(spawn, site, api_keys["read"])
    client = httpx.Client(base_url=api.base, headers=auth(api_keys["read"]), timeout=10)

    def check(path: str, params: dict[str, str], field: str, value: str) -> None:
        r = client.get(path, params={**params, field: value})
        assert r.status_code in (200, 422), (path, field, value[:80], r.status_code, r.text[:200])
        if r.status_code == 422:
            assert (
                field in r.json()["message"]
                or "start must be before end" in r.json()["message"]
                or "400 days" in r.json()["message"]
            ), r.json()

    for path, params in TIME_ENDPOINTS:
        for field in ("start", "end"):
            for value in ODD_TIMES:
                check(path, params, field, value)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.sampled_from(TIME_ENDPOINTS),
        st.sampled_from(["start", "end", "interval"]),
        st.text(max_size=40) | st.integers(-(10**25), 10**25).map(str),
    )
    def fuzz(endpoint: tuple[str, dict[str, str]], field: str, value: str) -> None:
        path, params = endpoint
        if field == "interval" and "history" not in path:
            field = "start"
        check(path, params, field, value)

    fuzz()
    client.close()


def _raw(port: int, head: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send `head` (request line and headers, no body) on a fresh connection;
    the status the server answers without waiting for a body, and the body."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


def test_bodies_are_bounded_and_authenticated_before_a_byte_is_read(
    tmp_path: Path, site_id: str, spawn: Callable[..., GudangProcess], api_keys: dict[str, str]
) -> None:
    """The field trial's 150 MB unauthenticated POSTs: refused from the headers
    alone (413), as is a body from an unknown key (401) and a chunked one
    (411); a body that never comes is a 408 after the request timeout."""
    from gudang.testing import ApiClient

    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(site_id=site_id))
    api = ApiClient.start(spawn, site, api_keys["read"], GUDANG_API__REQUEST_TIMEOUT_S="1")
    port = int(api.base.rsplit(":", 1)[1])
    post = "POST /api/v1/alerts/low_stock/RB/ack HTTP/1.1\r\nHost: x\r\n"
    status, body = _raw(port, post + "Content-Length: 150000000\r\n\r\n")
    assert status == 413 and b"too_large" in body
    status, body = _raw(port, post + "Content-Length: 100\r\n\r\n")  # no key, body never sent
    assert status == 401
    status, _ = _raw(port, post + "Authorization: Bearer gk_wrong\r\nContent-Length: 100\r\n\r\n")
    assert status == 401
    staff = f"Authorization: Bearer {api_keys['staff']}\r\n"
    status, _ = _raw(port, post + staff + "Transfer-Encoding: chunked\r\n\r\n")
    assert status == 411
    status, body = _raw(port, post + staff + "Content-Length: 100\r\n\r\n")  # stalls
    assert status == 408 and b"request_timeout" in body
    assert api.ready()


def test_half_sent_requests_are_closed_and_valid_clients_still_served(
    tmp_path: Path, site_id: str, spawn: Callable[..., GudangProcess], api_keys: dict[str, str]
) -> None:
    """More half-sent requests than the connection cap (the field trial's slow
    connections exhausted the file descriptors): each is closed after the
    request timeout, and a valid client is served again."""
    import socket

    from gudang.testing import ApiClient, http_ok

    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(site_id=site_id))
    api = ApiClient.start(spawn, site, api_keys["read"], GUDANG_API__REQUEST_TIMEOUT_S="1",
                          GUDANG_API__MAX_CONNECTIONS="40")  # fmt: skip
    port = int(api.base.rsplit(":", 1)[1])
    slow = []
    for _ in range(60):  # bounded: 60 connections, each a half-sent request line
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    try:
        for s in slow:
            assert s.recv(1024) == b""  # closed by the server, not by us
        wait_for(lambda: http_ok(f"{api.base}/healthz"), timeout=15, what="a valid client served")
    finally:
        for s in slow:
            s.close()


def test_webhook_targets_in_the_plants_network_are_refused(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    api_keys: dict[str, str],
    influx_settings: InfluxSettings,
) -> None:
    """Every class of address the field trial reached (InfluxDB's /query ran
    CREATE DATABASE) is a 422 naming why; with loopback allowed for a LAN
    system, InfluxDB and the API itself are still refused; a password in a
    URL is never shown back. Only loopback is ever contacted (for names)."""
    import httpx

    from gudang.testing import ApiClient, auth

    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(site_id=site_id))
    admin = auth(api_keys["admin"])

    def subscribe(api: ApiClient, url: str) -> httpx.Response:
        return httpx.post(f"{api.base}/api/v1/webhooks", json={"url": url}, headers=admin,
                          timeout=10)  # fmt: skip

    strict = ApiClient.start(spawn, site, api_keys["read"])
    influx_query = f"{influx_settings.url}/query?q=CREATE+DATABASE+pwned"
    for url in [
        influx_query, "http://localhost:9/", "http://[::1]:9/", "http://2130706433:9/",
        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/",
        "http://[fd00::1]/", "http://224.0.0.1/", "http://0.0.0.0:9/", f"{strict.base}/healthz",
    ]:  # fmt: skip
        r = subscribe(strict, url)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["code"] == "target_refused", r.json()
    assert strict.proc is not None and strict.proc.stop() == 0

    lan = ApiClient.start(spawn, site, api_keys["read"], GUDANG_WEBHOOK_ALLOW='["127.0.0.1/32"]')
    for url in [influx_query, f"{lan.base}/api/v1/keys"]:
        r = subscribe(lan, url)
        assert r.status_code == 422 and "own API or InfluxDB" in r.json()["message"], r.text
    ok = subscribe(lan, "http://ops:s3cret@127.0.0.1:9/hook")
    assert ok.status_code == 201, ok.text
    assert ok.json()["url"] == "http://***@127.0.0.1:9/hook"
    listed = httpx.get(f"{lan.base}/api/v1/webhooks", headers=admin, timeout=10).json()
    assert "s3cret" not in json.dumps(listed)
    shown = httpx.get(f"{influx_settings.url}/query", params={"q": "SHOW DATABASES"}, timeout=10)
    assert shown.status_code == 200 and "pwned" not in shown.text
