"""Every part real: simulated scale on a pty -> edge -> Mosquitto -> collector ->
InfluxDB -> API. Changing the weight on the simulated scale changes the
quantity the ordering system reads over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gudang.services import free_port
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, auth, http_ok, wait_for

SiteFactory = Callable[..., Path]


KEY: dict[str, str] = {}


def _stock(base: str) -> dict[str, Any]:
    try:
        resp = httpx.get(f"{base}/api/v1/stock", timeout=5, headers=KEY)
    except httpx.HTTPError:
        return {}
    return resp.json() if resp.status_code == 200 else {}  # type: ignore[no-any-return]


def _item(body: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(i for i in body.get("items", []) if i["sku"] == sku)


def test_weight_change_reaches_the_api(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    site_id: str,
    api_keys: dict[str, str],
) -> None:
    KEY.update(auth(api_keys["read"]))
    site = make_site()
    control = free_port()
    api_port = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.5")
    collector = spawn("collector", "--site", str(site))
    wait_for(
        lambda: sim.logged("sim_start") and collector.logged("mqtt_subscribed"),
        what="sim+collector",
    )
    edge = spawn("edge", "--site", str(site))
    api = spawn("api", "--site", str(site), "--port", str(api_port))
    base = f"http://127.0.0.1:{api_port}"

    body = wait_for(
        lambda: (b := _stock(base)) and all(i["quantity"] is not None for i in b["items"]) and b,
        timeout=30,
        what="first stock",
    )
    assert body["site"] == site_id
    rebar = _item(body, "RB-D10")
    assert rebar["unit"] == "pcs"
    assert rebar["quantity"] == pytest.approx(50, abs=0.01)
    assert rebar["status"] == "ok"
    assert rebar["bins"][0]["bin"] == "C1"
    assert _item(body, "OFFCUT")["quantity"] == pytest.approx(125, abs=0.1)

    with ControlClient(control) as sim_ctl:
        sim_ctl.send(op="take", bin="C1", qty=32)  # 18 left: at the reorder point (20)
        low = wait_for(
            lambda: (i := _item(_stock(base), "RB-D10"))["quantity"] < 49 and i,
            timeout=15,
            what="quantity after a pick",
        )
        assert low["quantity"] == pytest.approx(18, abs=0.01)
        assert low["status"] == "low"
        sim_ctl.send(op="set_qty", bin="C1", qty=4)
        crit = wait_for(
            lambda: (i := _item(_stock(base), "RB-D10"))["status"] == "critical" and i,
            timeout=15,
            what="critical stock",
        )
        assert crit["quantity"] == pytest.approx(4, abs=0.01)

    # A command to the device through its edge (admin only).
    cmd_url = f"{base}/api/v1/devices/scale-1/command"
    body = {"op": "zero", "by": "Sari"}
    assert httpx.post(cmd_url, json=body, headers=KEY).status_code == 403
    admin = auth(api_keys["admin"])
    reply = httpx.post(cmd_url, json=body, headers=admin, timeout=15)
    # A continuous-output indicator takes no commands: the edge answers why (a
    # round trip through broker and edge; MT-SICS commands succeed in test_edge_protocols).
    assert reply.status_code == 409, reply.text
    assert reply.json()["code"] == "command_refused"
    assert "cannot be sent over ad-continuous" in reply.json()["message"]
    unknown = httpx.post(f"{base}/api/v1/devices/nope/command", json=body, headers=admin)
    assert unknown.status_code == 404

    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["influxdb"].startswith("ok")
    missing = httpx.get(f"{base}/api/v1/nope", headers=KEY)
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Not Found"}

    for proc in (api, edge, collector, sim):
        assert proc.stop() == 0, proc.tail()


def test_api_when_influxdb_is_down(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    private_influxdb: Any,
    api_keys: dict[str, str],
) -> None:
    """Stock is served from the live view, marked stale; what needs InfluxDB
    (history) is a 503 JSON error; /readyz says why."""
    key = auth(api_keys["read"])
    api_port = free_port()
    api = spawn(
        "api",
        "--site",
        str(make_site()),
        "--port",
        str(api_port),
        GUDANG_INFLUX__URL=private_influxdb.url,
    )
    base = f"http://127.0.0.1:{api_port}"
    wait_for(lambda: api.logged("api_start"), what="api")
    wait_for(lambda: http_ok(f"{base}/healthz"), what="healthz")
    wait_for(lambda: http_ok(f"{base}/api/v1/stock", key), what="live view loaded")
    assert httpx.get(f"{base}/api/v1/stock", headers=key).json()["stale"] is False
    private_influxdb.stop()
    wait_for(lambda: httpx.get(f"{base}/api/v1/stock", headers=key).json()["stale"],
             what="stock marked stale")  # fmt: skip
    resp = httpx.get(f"{base}/api/v1/stock/RB-D10/history", headers=key)
    assert resp.status_code == 503
    assert resp.json()["code"] == "storage_unavailable"
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert api.stop() == 0
