"""API latency under a steady request rate, and the most it sustains.

A site of 2,000 bins (500 SKUs x 4 bins), every bin with a level and one SKU
with 30 days of hourly history, in a real influxd; a real `gudang api`; the
load from a separate process on loopback. Open loop: request i is due at
t0 + i/rate and its latency counts from then, so a slow answer delays the
figure instead of hiding (no coordinated omission).

    .venv/bin/python bench/api_load.py --seconds 20

Prints p50/p99 at the target rate (200 requests/s) for the stock list (the
default page and all 500 SKUs) and one SKU, and at 20 requests/s for one
SKU's 30-day history; then the most requests/s the stock list sustains with
16 concurrent clients.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gudang.api.keys import KeyStore
from gudang.services import InfluxServer, free_port
from gudang.settings import InfluxSettings
from gudang.testing import GudangProcess, auth, wait_for

SKUS, BINS_PER_SKU = 500, 4
NOW = int(time.time() * 1000)
HOUR = 3_600_000


def write_site(path: Path) -> None:
    lines = ["site: {id: load, name: Load}", "devices:"]
    lines += [f"  - {{id: s{i}, protocol: ad-continuous, port: /dev/null/{i}}}"
              for i in range(SKUS * BINS_PER_SKU)]  # fmt: skip
    lines += ["skus:"]
    lines += [f"  - {{id: K{k}, name: Item {k}, unit: pcs, unit_weight_kg: 7.4, minimum: 10, "
              f"reorder_point: 20, reorder_quantity: 50}}" for k in range(SKUS)]  # fmt: skip
    lines += ["bins:"]
    lines += [f"  - {{id: B{i}, rack: R{i // 40}, device: s{i}, sku: K{i // BINS_PER_SKU}, "
              f"tare_kg: 10, capacity_kg: 2000}}" for i in range(SKUS * BINS_PER_SKU)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def seed(influx: InfluxSettings) -> None:
    body = []
    for i in range(SKUS * BINS_PER_SKU):
        qty = 10 + i % 90
        body.append(f"bin_stock,site=load,bin=B{i},rack=R{i // 40},sku=K{i // BINS_PER_SKU} "
                    f"net_kg={qty * 7.4},qty={float(qty)},unit=\"pcs\" {NOW - 60_000}")  # fmt: skip
    for h in range(30 * 24):  # K0's bins: hourly for 30 days
        for i in range(BINS_PER_SKU):
            qty = 50 + (h * 7 + i) % 40
            body.append(f"bin_stock,site=load,bin=B{i},rack=R0,sku=K0 net_kg={qty * 7.4},"
                        f"qty={float(qty)},unit=\"pcs\" {NOW - (30 * 24 - h) * HOUR}")  # fmt: skip
    with httpx.Client(base_url=influx.url, timeout=60) as c:
        c.post("/query", params={"q": "CREATE DATABASE load"})
        for k in range(0, len(body), 5000):
            r = c.post("/write", params={"db": "load", "precision": "ms"},
                       content="\n".join(body[k : k + 5000]))  # fmt: skip
            r.raise_for_status()


class _Conn:
    """One keep-alive HTTP/1.1 connection on a raw socket: the load generator
    must cost far less than the server (httpx spends about a millisecond of
    CPU per request, as much as the API itself)."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                          f"Authorization: Bearer {self.key}\r\n\r\n".encode())  # fmt: skip
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status


def _split(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port), "/" + path


async def _open_loop(url: str, key: str, rate: float, seconds: float, out: list[float]) -> None:
    host, port, path = _split(url)
    n = int(rate * seconds)
    due: asyncio.Queue[float | None] = asyncio.Queue()

    async def worker() -> None:
        conn = _Conn(host, port, key)
        while (t := await due.get()) is not None:
            status = await conn.get(path)
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status}")
            out.append((time.perf_counter() - t) * 1000)

    workers = [asyncio.create_task(worker()) for _ in range(32)]
    t0 = time.perf_counter() + 0.2
    for i in range(n):
        when = t0 + i / rate
        await asyncio.sleep(max(0.0, when - time.perf_counter()))
        due.put_nowait(when)  # latency counts from when it was due
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)


async def _closed_loop(url: str, key: str, clients: int, seconds: float) -> int:
    host, port, path = _split(url)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        conn = _Conn(host, port, key)
        while time.perf_counter() < deadline:
            if await conn.get(path) != 200:
                raise SystemExit(f"{path}: not 200")
            done += 1

    await asyncio.gather(*(worker() for _ in range(clients)))
    return done


def _run(kind: str, url: str, key: str, arg: float, seconds: float, q: mp.Queue) -> None:  # type: ignore[type-arg]
    if kind == "open":
        lat: list[float] = []
        asyncio.run(_open_loop(url, key, arg, seconds, lat))
        q.put(lat)
    else:
        q.put(asyncio.run(_closed_loop(url, key, int(arg), seconds)))


def in_process(kind: str, url: str, key: str, arg: float, seconds: float) -> object:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_run, args=(kind, url, key, arg, seconds, q))
    p.start()
    result = q.get(timeout=seconds + 120)
    p.join(30)
    return result


def pct(v: list[float], p: int) -> float:
    return statistics.quantiles(v, n=100)[p - 1]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--history-rate", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        db = InfluxServer(tmp / "influx")
        db.start()
        api: GudangProcess | None = None
        try:
            influx = InfluxSettings(url=db.url, database="load")
            site = tmp / "site.yaml"
            write_site(site)
            seed(influx)
            keys = KeyStore(tmp / "state.db")
            _, key = keys.create("bench", "read")
            keys.close()
            port = free_port()
            env = {"GUDANG_INFLUX__URL": db.url, "GUDANG_INFLUX__DATABASE": "load",
                   "GUDANG_MQTT__PORT": str(free_port()),  # no broker: the API runs without
                   "GUDANG_API__STATE_FILE": str(tmp / "state.db"),
                   "GUDANG_LOG_LEVEL": "warning"}  # fmt: skip
            api = GudangProcess(["api", "--site", str(site), "--port", str(port)], env,
                                tmp / "api.log")  # fmt: skip
            base = f"http://127.0.0.1:{port}"

            def loaded() -> bool:
                try:
                    r = httpx.get(f"{base}/api/v1/stock/K1", headers=auth(key), timeout=2)
                except httpx.HTTPError:
                    return False
                return r.status_code == 200 and r.json()["quantity"] is not None

            wait_for(loaded, timeout=60, what="api with the live view loaded")
            print(f"site: {SKUS * BINS_PER_SKU:,} bins, {SKUS} SKUs; {args.rate:.0f} requests/s "
                  f"for {args.seconds:.0f} s each, open loop, separate process")  # fmt: skip
            history = f"/api/v1/stock/K0/history?interval=1h&start={NOW - 30 * 24 * HOUR}"
            targets = [
                ("GET /api/v1/stock (default page, 100 SKUs)", "/api/v1/stock", args.rate),
                ("GET /api/v1/stock?limit=1000 (all 2,000 bins)", "/api/v1/stock?limit=1000",
                 args.rate),
                ("GET /api/v1/stock/K7", "/api/v1/stock/K7", args.rate),
                # Each history request is an InfluxDB query over 30 days: a lower rate.
                ("GET /api/v1/stock/K0/history (30 d, 1 h)", history, args.history_rate),
            ]  # fmt: skip
            for name, path, rate in targets:
                lat = in_process("open", base + path, key, rate, args.seconds)
                assert isinstance(lat, list)
                print(f"{name:<48} at {rate:3.0f}/s: p50 {pct(lat, 50):6.1f} ms  "
                      f"p99 {pct(lat, 99):6.1f} ms  ({len(lat)} requests)", flush=True)  # fmt: skip
            done = in_process("closed", base + "/api/v1/stock", key, 16, args.seconds)
            assert isinstance(done, int)
            rps = done / args.seconds
            print(f"max sustained, GET /api/v1/stock, 16 clients: {rps:,.0f} requests/s")
            hwm = next(int(line.split()[1]) for line in
                       Path(f"/proc/{api.proc.pid}/status").read_text().splitlines()
                       if line.startswith("VmHWM:"))  # fmt: skip
            print(f"the API's peak RSS: {hwm / 1024:.0f} MiB")
        finally:
            if api is not None:
                api.stop()
            db.stop()


if __name__ == "__main__":
    main()
