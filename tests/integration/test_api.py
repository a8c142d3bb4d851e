"""The HTTP API against a real Mosquitto, a real InfluxDB and the real
collector producing the data (readings and tag events published over MQTT)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gudang.contract import DeviceStatus, TagEvent, WeightReading
from gudang.services import free_port
from gudang.settings import MqttSettings
from gudang.testing import GudangProcess, HookReceiver, MqttRecorder, auth, http_ok, wait_for
from gudang.webhooks import sign

T0 = int(time.time() * 1000) - 3_600_000  # an hour ago: inside the default ranges


def write_site(tmp: Path, site_id: str) -> Path:
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {site_id}, name: API test}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/1, division_kg: 0.1}}
  - {{id: scale-2, protocol: ad-continuous, port: /dev/null/2, division_kg: 0.1}}
  - {{id: scale-3, protocol: ad-continuous, port: /dev/null/3, division_kg: 0.1}}
  - {{id: gate-c, protocol: rdm6300, port: /dev/null/4, bay: C}}
skus:
  - {{id: RB-D10, name: Besi beton D10, unit: pcs, unit_weight_kg: 7.4, minimum: 10,
      reorder_point: 20, reorder_quantity: 50, target: 100, group: besi,
      unit_name: {{id: batang, en: bars}}}}
  - {{id: PL-2, name: Pelat 2 mm, unit: kg, minimum: 100, reorder_point: 200,
      reorder_quantity: 500, group: pelat}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60, capacity_kg: 1480}}
  - {{id: C2, rack: C, device: scale-2, sku: RB-D10, tare_kg: 60}}
  - {{id: P1, rack: P, device: scale-3, sku: PL-2, tare_kg: 10}}
tags:
  - {{id: "0A00B1C2D3", kind: person, label: Budi}}
alerts: {{dwell_s: 0}}
""")
    return path


@dataclass
class Stack:
    base: str
    keys: dict[str, str]
    site_id: str
    mqtt: MqttSettings
    api: GudangProcess
    collector: GudangProcess
    seq: dict[str, int]

    def get(self, path: str, scope: str = "read", **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", params=params, headers=auth(self.keys[scope]),
                         timeout=10)  # fmt: skip

    def weigh(self, device: str, kg: float, ts: int) -> None:
        self.weigh_all([(device, kg, ts)])

    def weigh_all(self, readings: list[tuple[str, float, int]]) -> None:
        """Publish readings (device, kg, device time) in order, on one connection."""
        with MqttRecorder(self.mqtt, []) as rec:
            for device, kg, ts in readings:
                n = self.seq[device] = self.seq.get(device, -1) + 1
                r = WeightReading(device_id=device, boot_id="b1", seq=n, ts=ts, weight=kg,
                                  unit="kg", stable=True, reason="change")  # fmt: skip
                rec.publish(f"gudang/v1/{self.site_id}/device/{device}/reading",
                            r.model_dump_json())  # fmt: skip

    def tag(self, tag: str, ts: int) -> None:
        n = self.seq["gate-c"] = self.seq.get("gate-c", -1) + 1
        e = TagEvent(device_id="gate-c", boot_id="b1", seq=n, ts=ts, tag=tag, event="arrived")
        with MqttRecorder(self.mqtt, []) as rec:
            rec.publish(f"gudang/v1/{self.site_id}/device/gate-c/tag", e.model_dump_json())

    def sku(self, sku: str) -> dict[str, Any]:
        return self.get(f"/api/v1/stock/{sku}").json()  # type: ignore[no-any-return]


# Readings here are an hour old: the live view re-reads every bin each second.
API_ENV = {"GUDANG_API__LIVE_POLL_S": "0.2", "GUDANG_API__LIVE_FULL_S": "1",
           "GUDANG_API__CONSUMPTION_REFRESH_S": "0.5",
           "GUDANG_API__WEBHOOK_RETRY_S": "0.2",
           "GUDANG_WEBHOOK_ALLOW": '["127.0.0.1/32"]'}  # fmt: skip  # receivers on loopback


@pytest.fixture
def stack(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    api_keys: dict[str, str],
) -> Iterator[Stack]:
    site = write_site(tmp_path, site_id)
    collector = spawn("collector", "--site", str(site), GUDANG_COLLECTOR_FORECAST_EVERY="0.5")
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    port = free_port()
    api = spawn("api", "--site", str(site), "--port", str(port), **API_ENV)
    s = Stack(f"http://127.0.0.1:{port}", api_keys, site_id, mqtt_settings, api, collector, {})
    wait_for(lambda: http_ok(f"{s.base}/readyz"), timeout=30, what="api ready")
    yield s
    assert api.stop() == 0, api.tail()
    assert collector.stop() == 0, collector.tail()


def test_the_dashboard_has_an_icon(stack: Stack) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        icon = httpx.get(f"{stack.base}{path}")
        assert icon.status_code == 200, path
        assert icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.text.startswith("<svg")
    assert 'rel="icon"' in httpx.get(f"{stack.base}/").text


def test_keys_scopes_and_json_errors(stack: Stack, tmp_path: Path) -> None:
    url = f"{stack.base}/api/v1/stock"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    wrong = httpx.get(url, headers=auth("gk_00000000_not-a-key"))
    assert wrong.status_code == 401
    assert httpx.get(url, headers={"X-API-Key": stack.keys["read"]}).status_code == 200
    # read may not acknowledge or calibrate; staff may acknowledge but not calibrate
    body = {"by": "Budi"}
    tare = f"{stack.base}/api/v1/bins/C1/tare"
    forbidden = httpx.post(tare, json=body, headers=auth(stack.keys["staff"]))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    ack = f"{stack.base}/api/v1/alerts/low_stock/RB-D10/ack"
    assert httpx.post(ack, json=body, headers=auth(stack.keys["read"])).status_code == 403
    assert httpx.post(ack, json=body, headers=auth(stack.keys["staff"])).status_code == 404
    # revoked with the CLI: refused from the next request on
    key_id = stack.keys["read"].split("_")[1]
    revoke = GudangProcess(["api-key", "revoke", key_id, "--state-file",
                            str(tmp_path / "api-state.db")], {}, tmp_path / "revoke.log")  # fmt: skip
    assert revoke.proc.wait(30) == 0, revoke.tail()
    assert httpx.get(url, headers=auth(stack.keys["read"])).status_code == 401
    # no key ever reaches a log line
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    for token in stack.keys.values():
        assert token.split("_", 2)[2] not in logs


def test_stock_pagination_filters_reorder_and_devices(stack: Stack) -> None:
    stack.weigh("scale-1", 60 + 7.4 * 12 + 0.04, T0)  # C1: 12 pcs (and 40 g the count ignores)
    stack.weigh("scale-2", 60 + 7.4 * 4, T0 + 1)  # C2: 4 pcs -> RB-D10 16: low
    stack.weigh("scale-3", 10 + 650.04, T0 + 2)  # P1: 650 kg on a 0.1 kg scale -> ok
    rb = wait_for(lambda: (s := stack.sku("RB-D10"))["status"] != "unknown" and s, what="stock")
    # For people: whole bars, named as the site file names them; for programs,
    # the measured count.
    assert rb["quantity"] == 16 and rb["quantity_exact"] == pytest.approx(16.0054, abs=1e-4)
    assert rb["unit_name"] == {"id": "batang", "en": "bars"}
    assert [b["quantity"] for b in rb["bins"]] == [12, 4]
    assert rb["net_kg"] == 118.4  # 118.44 kg on 0.1 kg scales
    assert rb["status"] == "low"
    assert {b["bin"]: b["fill"] for b in rb["bins"]} == {
        "C1": pytest.approx(88.84 / 1480, abs=1e-4),
        "C2": None,
    }
    plate = stack.sku("PL-2")
    assert (plate["quantity"], plate["unit_name"]) == (650.0, {"id": "kg", "en": "kg"})

    page = stack.get("/api/v1/stock", limit=1, offset=1).json()
    assert page["total"] == 2 and page["limit"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["sku"] == "PL-2"
    assert [i["sku"] for i in stack.get("/api/v1/stock", status="low").json()["items"]] == [
        "RB-D10"
    ]
    assert [i["sku"] for i in stack.get("/api/v1/stock", group="pelat").json()["items"]] == ["PL-2"]
    assert [i["sku"] for i in stack.get("/api/v1/stock", q="besi").json()["items"]] == ["RB-D10"]
    bins = stack.get("/api/v1/bins", rack="C").json()
    assert [b["bin"] for b in bins["items"]] == ["C1", "C2"]

    reorder = stack.get("/api/v1/reorder").json()["items"]
    assert [(r["sku"], r["suggested_quantity"]) for r in reorder] == [
        ("RB-D10", 84.0)
    ]  # to target 100

    unreadable = DeviceStatus(subject="device", id="scale-3", edge="edge-1", state="unreadable",
                              reason="no_valid_frames", detail="300 bytes in 3 s without a frame",
                              noise_kg=0.12)  # fmt: skip
    with MqttRecorder(stack.mqtt, []) as rec:
        rec.publish(f"gudang/v1/{stack.site_id}/device/scale-3/status",
                    unreadable.model_dump_json(), retain=True)  # fmt: skip
    devices = wait_for(
        lambda: (
            (d := {d["id"]: d for d in stack.get("/api/v1/devices").json()["items"]})
            and d["scale-3"]["state"] == "unreadable"
            and d
        ),
        what="the unreadable status in /devices",
    )
    assert devices["scale-3"]["reason"] == "no_valid_frames"
    assert devices["scale-3"]["detail"] == "300 bytes in 3 s without a frame"
    assert devices["scale-3"]["noise_kg"] == 0.12
    assert devices["scale-1"]["last_reading_at"] == T0
    assert 3500 < devices["scale-1"]["reading_age_s"] < 4000  # the reading is an hour old
    assert devices["gate-c"]["kind"] == "rfid"

    assert stack.get("/api/v1/stock/NOPE").json() == {
        "code": "not_found", "message": "unknown SKU 'NOPE'"}  # fmt: skip
    bad = stack.get("/api/v1/stock", limit=0)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_history_json_and_csv_and_movements_with_tags(stack: Stack) -> None:
    minute = 60_000
    for k, pieces in enumerate([50, 47, 47, 40]):  # picks of 3 and 7
        if k == 3:
            stack.tag("0A00B1C2D3", T0 + k * minute - 5_000)  # Budi at rack C before the pick
        stack.weigh("scale-1", 60 + 7.4 * pieces, T0 + k * minute)
    moves = wait_for(
        lambda: len(m := stack.get("/api/v1/movements", sku="RB-D10").json()["items"]) == 2 and m,
        what="movements",
    )
    assert [(m["kind"], m["delta_qty"], m["labels"]) for m in moves] == [
        ("pick", -7.0, ["Budi"]), ("pick", -3.0, [])]  # fmt: skip
    # To the scale's 0.1 kg, not 7.4 x 7 in floating point (-51.80000000000001).
    assert [m["delta_kg"] for m in moves] == [-51.8, -22.2]
    assert moves[0]["unit_name"] == {"id": "batang", "en": "bars"}
    assert moves[0]["tags"] == ["0A00B1C2D3"]

    params = {"start": T0 - minute, "end": T0 + 5 * minute, "interval": "1m"}
    hist = stack.get("/api/v1/bins/C1/history", **params).json()
    levels = [p["quantity"] for p in hist["points"]]
    assert levels[-1] == pytest.approx(40) and pytest.approx(50) in levels
    assert hist["unit"] == "pcs" and hist["interval"] == "1m"
    assert hist["unit_name"] == {"id": "batang", "en": "bars"}
    csv_resp = stack.get("/api/v1/bins/C1/history", format="csv", **params)
    assert csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert [float(r["quantity"]) for r in rows] == pytest.approx(levels)
    # The SKU's history sums its bins (C2 has no level: only C1 counts).
    sku_hist = stack.get("/api/v1/stock/RB-D10/history", **params).json()
    assert [p["quantity"] for p in sku_hist["points"]] == pytest.approx(levels)

    too_fine = stack.get(
        "/api/v1/bins/C1/history", interval="1s", start=T0 - 30 * 86_400_000, end=T0
    )
    assert too_fine.status_code == 422
    backwards = stack.get("/api/v1/bins/C1/history", start=T0, end=T0 - 1)
    assert backwards.status_code == 422 and "before" in backwards.json()["message"]


INJECTIONS: list[tuple[str, dict[str, str]]] = [
    ('/api/v1/stock/RB-D10" OR 1=1 --/history', {}),
    ("/api/v1/bins/C1'; DROP DATABASE x/history", {}),
    ("/api/v1/bins/C1/history", {"interval": '1h) ; DROP MEASUREMENT "reading"'}),
    ("/api/v1/movements", {"sku": "RB-D10' OR '1'='1"}),
    ("/api/v1/movements", {"bin": 'C1" OR "x"="x'}),
    ("/api/v1/stock", {"group": "besi' OR 1=1", "q": '"; DROP'}),
    ("/api/v1/alerts", {"state": "history", "start": "0; DROP DATABASE x"}),
    ("/api/v1/bins", {"rack": "C' OR 1=1"}),
]


def test_injection_attempts_are_refused_or_harmless(stack: Stack) -> None:
    stack.weigh("scale-3", 500.0, T0)
    wait_for(lambda: stack.sku("PL-2")["quantity"] is not None, what="a level")
    for path, params in INJECTIONS:
        resp = stack.get(path, **params)
        assert resp.status_code in (200, 404, 422), (path, params, resp.text)
        body = resp.json()
        if resp.status_code == 200:
            assert body["items"] == [], (path, params)  # matched nothing rather than everything
        else:
            assert body["code"] in ("not_found", "invalid_request"), body
    assert stack.sku("PL-2")["quantity"] == pytest.approx(490.0)  # the data is intact


def test_alerts_acknowledge_and_history(stack: Stack) -> None:
    stack.weigh("scale-1", 60 + 7.4 * 3, T0)
    stack.weigh("scale-2", 60 + 7.4 * 2, T0 + 1)  # 5 pcs <= minimum 10
    active = wait_for(
        lambda: (
            (a := stack.get("/api/v1/alerts").json()["items"])
            and any(x["kind"] == "low_stock" for x in a)
            and a
        ),
        what="low stock alert",
    )
    low = next(a for a in active if a["kind"] == "low_stock")
    assert low["subject"] == "RB-D10" and low["state"] == "raised"
    assert "menipis" in low["text"]["id"]

    def ack(by: str, note: str, acks: int) -> dict[str, Any]:
        resp = httpx.post(f"{stack.base}/api/v1/alerts/low_stock/RB-D10/ack",
                          json={"by": by, "note": note}, headers=auth(stack.keys["staff"]))  # fmt: skip
        assert resp.status_code == 202, resp.text
        return wait_for(  # type: ignore[no-any-return]
            lambda: next((a for a in stack.get("/api/v1/alerts").json()["items"]
                          if a["kind"] == "low_stock" and a["state"] == "acknowledged"
                          and len(a["acknowledgements"]) == acks), None),
            what=f"acknowledgement {acks}",
        )  # fmt: skip

    acked = ack("Sari", "sudah dipesan", 1)
    assert acked["acknowledged_by"] == "Sari" and acked["note"] == "sudah dipesan"
    # A second acknowledgement adds to the first instead of replacing its note.
    again = ack("Budi", "truk datang besok", 2)
    assert [(k["by"], k["note"]) for k in again["acknowledgements"]] == [
        ("Sari", "sudah dipesan"), ("Budi", "truk datang besok")]  # fmt: skip
    assert again["acknowledgements"][0]["ts"] <= again["acknowledgements"][1]["ts"]
    assert again["acknowledged_by"] == "Budi"
    history = wait_for(
        lambda: len(h := stack.get("/api/v1/alerts", state="history").json()["items"]) >= 4 and h,
        what="alert history",
    )
    states = [a["state"] for a in history if a["kind"] == "low_stock"]
    assert states[:3] == ["acknowledged", "acknowledged", "raised"]  # newest first


def test_live_events_stream_a_bin_change(stack: Stack) -> None:
    """Each change people can see is an event, rounded as they read it, and
    says whether a movement was recorded (the dashboard flashes a card only
    then); a level that moved within the scale's resolution is none."""
    received: list[dict[str, Any]] = []
    subscribed = threading.Event()
    done = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{stack.base}/api/v1/events", headers=auth(stack.keys["read"]),
                          timeout=30) as resp:  # fmt: skip
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                subscribed.set()  # the first line ("retry:") comes after the subscription
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))
                if done.is_set() or any(e.get("bin") == "C1" for e in received):
                    return

    def p1() -> list[dict[str, Any]]:
        return [e for e in received if e.get("bin") == "P1"]

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_for(subscribed.is_set, what="the event stream subscribed")
    minute = 60_000
    stack.weigh("scale-3", 10 + 321.5, T0)
    wait_for(lambda: len(p1()) == 1, what="the first level")
    stack.weigh("scale-3", 10 + 371.5, T0 + minute)  # 50 kg put
    wait_for(lambda: len(p1()) == 2, what="the put")
    stack.weigh("scale-3", 10 + 371.52, T0 + 2 * minute)  # 20 g on a 0.1 kg scale
    wait_for(lambda: stack.sku("PL-2")["updated_at"] == T0 + 2 * minute, what="the noisy level")
    stack.weigh("scale-1", 60 + 7.4 * 3, T0 + 2 * minute + 1)  # after it in the stream
    thread.join(timeout=20)
    done.set()
    first, put = p1()[:2]
    assert first["type"] == "bin" and first["quantity"] == 321.5 and first["movement"] is None
    assert (put["quantity"], put["movement"]) == (371.5, "put")
    assert len(p1()) == 2, p1()  # nothing for 371.52: people see 371.5 all along
    assert stack.sku("PL-2")["quantity_exact"] == pytest.approx(371.52)


def test_calibration_through_the_collector(stack: Stack) -> None:
    stack.weigh("scale-1", 61.5, T0)  # the empty bin weighs 61.5 kg, not 60
    wait_for(lambda: stack.sku("RB-D10")["bins"][0]["quantity"] is not None, what="a level")
    resp = httpx.post(f"{stack.base}/api/v1/bins/C1/tare", json={"by": "Sari"},
                      headers=auth(stack.keys["admin"]), timeout=15)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"bin": "C1", "op": "tare", "value": 61.5, "previous": 60.0}
    refused = httpx.post(f"{stack.base}/api/v1/bins/C1/unit-weight", json={"by": "Sari", "pieces": 3},
                         headers=auth(stack.keys["admin"]), timeout=15)  # fmt: skip
    assert refused.status_code == 409
    assert "at least 10" in refused.json()["message"]
    assert stack.collector.logged("calibration")


def test_openapi_contract_holds_for_generated_requests(stack: Stack) -> None:
    """schemathesis: requests generated from the app's own OpenAPI document
    never get a 5xx, and every response matches its documented schema,
    status code and content type. (Schema-valid requests may still get a
    documented 422: start before end, a range or interval too large, are
    rules across parameters that a schema cannot express.)"""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    stack.weigh("scale-1", 60 + 7.4 * 30, T0)
    wait_for(lambda: stack.sku("RB-D10")["bins"][0]["quantity"] is not None, what="a level")
    schema = schemathesis.openapi.from_url(f"{stack.base}/openapi.json")
    headers = auth(stack.keys["admin"])
    checked = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/events":  # an endless stream: tested above
            continue

        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(base_url=stack.base, headers=headers, timeout=20,
                                   excluded_checks=[positive_data_acceptance])  # fmt: skip

        run()
        checked.append(f"{op.method.upper()} {op.path}")
    assert len(checked) >= 14, checked


def test_webhook_subscription_signed_retried_logged_and_not_repeated(
    stack: Stack, spawn: Callable[..., GudangProcess], tmp_path: Path
) -> None:
    receiver = HookReceiver(refuse_first=1)
    admin = auth(stack.keys["admin"])
    hooks = f"{stack.base}/api/v1/webhooks"
    assert httpx.post(hooks, json={"url": receiver.url}, headers=auth(stack.keys["staff"])
                      ).status_code == 403  # fmt: skip
    assert httpx.post(hooks, json={"url": "ftp://x"}, headers=admin).status_code == 422
    made = httpx.post(hooks, json={"url": receiver.url, "kinds": ["low_stock"]}, headers=admin)
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["states"] == ["raised", "cleared"] and hook["created_by"] == "test-admin"
    listed = httpx.get(hooks, headers=admin).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    now = int(time.time() * 1000)
    stack.weigh("scale-1", 60 + 7.4 * 3, now)
    stack.weigh("scale-2", 60 + 7.4 * 2, now + 1)  # 5 pcs <= minimum 10
    wait_for(lambda: receiver.received, timeout=20, what="the webhook")
    headers, body = receiver.received[0]
    alert = json.loads(body)
    assert (alert["kind"], alert["subject"], alert["state"]) == ("low_stock", "RB-D10", "raised")
    expected = sign(hook["secret"].encode(), headers["X-Gudang-Timestamp"], body)
    assert headers["X-Gudang-Signature"] == expected
    log = wait_for(
        lambda: httpx.get(f"{hooks}/{hook['id']}/deliveries", headers=admin).json()["items"],
        what="delivery log",
    )
    assert log[0]["attempts"] == 2 and log[0]["ok"] is True and log[0]["status"] == 204

    # A restarted API sees the retained alert again: it must not send it twice.
    assert stack.api.stop() == 0
    port = int(stack.base.rsplit(":", 1)[1])
    stack.api = spawn("api", "--site", str(tmp_path / "site.yaml"), "--port", str(port),
                      **API_ENV)  # fmt: skip
    wait_for(lambda: http_ok(f"{stack.base}/readyz"), timeout=30, what="api again")
    stack.weigh("scale-1", 60 + 7.4 * 40, now + 2)  # refilled: cleared
    wait_for(lambda: len(receiver.received) >= 2, timeout=20, what="the cleared webhook")
    # Low again: a third transition, delivered after anything the restart
    # could have sent twice (one subscription delivers in order).
    stack.weigh("scale-1", 60 + 7.4 * 5, now + 3)
    wait_for(lambda: len(receiver.received) >= 3, timeout=20, what="raised again")
    states = [json.loads(b)["state"] for _, b in receiver.received]
    assert states == ["raised", "cleared", "raised"]

    assert httpx.delete(f"{hooks}/{hook['id']}", headers=admin).status_code == 204
    assert httpx.get(hooks, headers=admin).json()["items"] == []
    assert httpx.delete(f"{hooks}/{hook['id']}", headers=admin).status_code == 404
    receiver.close()


def test_changing_thresholds_at_run_time(
    stack: Stack, spawn: Callable[..., GudangProcess], tmp_path: Path
) -> None:
    stack.weigh("scale-1", 60 + 7.4 * 12, T0)
    stack.weigh("scale-2", 60 + 7.4 * 4, T0 + 1)  # 16 pcs: above minimum 10, low (<= 20)
    wait_for(lambda: stack.sku("RB-D10")["status"] == "low", what="stock")
    url = f"{stack.base}/api/v1/stock/RB-D10"
    change = {"by": "Sari", "minimum": 20, "reorder_point": 30}
    assert httpx.patch(url, json=change, headers=auth(stack.keys["staff"])).status_code == 403
    resp = httpx.patch(url, json=change, headers=auth(stack.keys["admin"]), timeout=15)
    assert resp.status_code == 200, resp.text
    now = resp.json()
    assert (now["minimum"], now["reorder_point"], now["updated_by"]) == (20, 30, "Sari")
    assert now["reorder_quantity"] == 50 and now["error"] is None
    # In effect at once: the stock status, and a low-stock alert without a new reading.
    wait_for(lambda: stack.sku("RB-D10")["status"] == "critical", what="critical under new minimum")
    wait_for(
        lambda: any(a["kind"] == "low_stock" for a in stack.get("/api/v1/alerts").json()["items"]),
        what="alert against the new minimum",
    )
    refused = httpx.patch(url, json={"by": "Sari", "reorder_point": 5},
                          headers=auth(stack.keys["admin"]), timeout=15)  # fmt: skip
    assert refused.status_code == 409
    assert "reorder_point (5) must be at least minimum (20)" in refused.json()["message"]
    assert stack.sku("RB-D10")["reorder_point"] == 30
    # Kept across a collector restart: it announces the SKU again (no request).
    assert stack.collector.stop() == 0
    name = f"gudang/v1/{stack.site_id}/sku/RB-D10/settings"
    with MqttRecorder(stack.mqtt, [name]) as rec:
        stack.collector = spawn("collector", "--site", str(tmp_path / "site.yaml"))
        again = wait_for(
            lambda: (m := rec.on("RB-D10/settings")) and m[-1]["request"] is None and m[-1],
            what="the collector's announcement after its restart",
        )
    assert (again["minimum"], again["reorder_point"], again["updated_by"]) == (20, 30, "Sari")
    assert stack.sku("RB-D10")["minimum"] == 20


def test_consumption_days_of_cover_and_the_reorder_list(stack: Stack) -> None:
    """Four weeks of picks recorded by the real collector (readings stamped
    in the past, as an edge replays them): the API's rate, days of cover,
    projected stock-out, suggestions and reorder order, JSON and CSV."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from gudang.replenishment import Calendar

    tz = ZoneInfo("Asia/Jakarta")  # the site's default zone; closed on Sundays
    cal = Calendar(tz)
    now = datetime.now(tz)
    days = cal.working_days((now - timedelta(days=27)).date(), now.date())  # the window

    def at(day: Any, hour: int) -> int:
        """`hour` o'clock on `day`; today, if that is still to come, as late
        as the day so far allows, in the same order and never on the day
        before (run just after midnight, "10 minutes ago" was yesterday)."""
        t = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
        latest = now - timedelta(minutes=10 - hour / 10)
        if t > latest:
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
            t = max(latest, midnight + timedelta(seconds=hour))
        return int(t.timestamp() * 1000)

    readings = [
        ("scale-1", 60 + 7.4 * 90, at(days[0], 8)),  # C1: 90 bars, first seen
        ("scale-2", 60.0, at(days[0], 8) + 1),  # C2: empty
        ("scale-3", 10 + 1600.0, at(days[0], 8) + 2),  # P1: 1600 kg of plate
    ]
    for i, day in enumerate(days, start=1):
        readings.append(("scale-1", 60 + 7.4 * (90 - 3 * i), at(day, 10)))  # 3 bars a day
        readings.append(("scale-3", 10 + 1600.0 - 55 * i, at(day, 11)))  # 55 kg a day
    stack.weigh_all(readings)
    n = len(days)

    def planned(sku: str) -> dict[str, Any]:
        body = stack.sku(sku)
        plan = body.get("replenishment") or {}
        return plan if plan.get("observed_days") == n and plan.get("rate_per_day") else {}

    rb = wait_for(lambda: planned("RB-D10"), timeout=30, what="the rebar's rate")
    assert rb["insufficient_history"] is False
    assert (rb["rate_per_day"], rb["variability"]) == (3.0, 0.0)
    stock = 90 - 3 * n
    assert rb["days_of_cover"] == round(stock / 3, 2)
    assert rb["stockout_date"] == cal.add_working_days(now.date(), stock / 3).isoformat()
    assert (rb["lead_time_days"], rb["service_level"], rb["review_days"]) == (7, 0.95, 7)
    assert rb["suggested_reorder_point"] == 21  # 3 a day x 7 days, steady: no safety stock
    assert rb["suggested_order"] == 3 * 14 - stock  # up to lead time + review period
    assert rb["urgency_days"] == round(stock / 3 - 7, 2)
    bins = {b["bin"]: b for b in stack.sku("RB-D10")["bins"]}
    assert (bins["C1"]["rate_per_day"], bins["C1"]["days_of_cover"]) == (3.0, round(stock / 3, 2))
    assert bins["C2"]["rate_per_day"] is None  # never picked from: no rate of its own
    on_rack = {b["bin"]: b for b in stack.get("/api/v1/bins", rack="C").json()["items"]}
    assert on_rack["C1"]["rate_per_day"] == 3.0
    plate = wait_for(lambda: planned("PL-2"), timeout=30, what="the plate's rate")
    assert plate["rate_per_day"] == 55.0
    assert plate["days_of_cover"] == round((1600 - 55 * n) / 55, 2)

    reorder = stack.get("/api/v1/reorder").json()["items"]
    assert [(r["sku"], r["reason"]) for r in reorder] == [
        ("PL-2", "projected_stockout"),  # above 200 kg, but empty 1.9 days before a delivery
        ("RB-D10", "reorder_point"),  # under its reorder point of 20; empty 1 day before
    ]
    sheet = stack.get("/api/v1/reorder", format="csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(r["sku"], r["reason"], r["rate_per_day"]) for r in rows] == [
        ("PL-2", "projected_stockout", "55.0"), ("RB-D10", "reorder_point", "3.0")]  # fmt: skip

    # Both run out before an order placed now could arrive: an alert each
    # (and its webhook), naming the date.
    def projected() -> dict[str, dict[str, Any]]:
        return {a["subject"]: a for a in stack.get("/api/v1/alerts").json()["items"]
                if a["kind"] == "stockout_projected"}  # fmt: skip

    alerts = wait_for(lambda: len(p := projected()) == 2 and p, what="stock-out projections")
    assert 0 < alerts["PL-2"]["value"] < 7  # days of cover when raised: under the lead time
    assert "before a new order could arrive (7 working days)" in alerts["PL-2"]["text"]["en"]
    assert "diperkirakan habis" in alerts["RB-D10"]["text"]["id"]
    # Terms changed at run time through the admin path: a 3-day lead time
    # and the plate is no longer urgent (its alert clears).
    headers = auth(stack.keys["admin"])
    url = f"{stack.base}/api/v1/stock"
    resp = httpx.patch(f"{url}/PL-2", json={"by": "Sari", "lead_time_days": 3}, headers=headers,
                       timeout=15)  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["lead_time_days"] == 3 and resp.json()["updated_by"] == "Sari"
    wait_for(lambda: [r["sku"] for r in stack.get("/api/v1/reorder").json()["items"]] == ["RB-D10"],
             what="the plate off the list")  # fmt: skip
    assert planned("PL-2")["lead_time_days"] == 3
    wait_for(lambda: list(projected()) == ["RB-D10"], what="the plate's projection cleared")
    # Adopting the rebar's suggested reorder point (21) is one call, recorded.
    assert httpx.post(f"{url}/RB-D10/adopt", json={"by": "Budi"},
                      headers=auth(stack.keys["staff"])).status_code == 403  # fmt: skip
    resp = httpx.post(f"{url}/RB-D10/adopt", json={"by": "Budi"}, headers=headers, timeout=15)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["reorder_point"], resp.json()["updated_by"]) == (21, "Budi")
    wait_for(lambda: stack.sku("RB-D10")["reorder_point"] == 21, what="the adopted point")
    none_yet = httpx.post(f"{url}/RB-D10/adopt", json={"by": "Budi", "what": ["bogus"]},
                          headers=headers)  # fmt: skip
    assert none_yet.status_code == 422
