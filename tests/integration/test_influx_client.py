"""The storage adapter against a real InfluxDB 1.6.7: escaping, bind parameters, errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gudang.errors import StorageError
from gudang.influx import InfluxClient, Point, quote_ident
from gudang.services import InfluxServer
from gudang.settings import InfluxSettings

awkward = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
    min_size=1,
    max_size=30,
).filter(lambda s: not s.endswith("\\") and s.strip() == s)


async def test_write_and_query_back(influx_settings: InfluxSettings) -> None:
    async with InfluxClient(influx_settings) as db:
        assert (await db.ping()).startswith("1.6")
        await db.ensure_database()
        await db.write(
            [
                Point(
                    "m",
                    {"qty": 1.5, "n": 2, "ok": True, "s": "x"},
                    1_764_000_000_123,
                    {"bin": "A1"},
                )
            ]
        )
        (series,) = await db.query('SELECT * FROM "m"')
        assert series.rows() == [
            {"time": 1_764_000_000_123, "bin": "A1", "qty": 1.5, "n": 2, "ok": True, "s": "x"}
        ]


async def test_same_time_and_tags_overwrites(influx_settings: InfluxSettings) -> None:
    """The idempotence the whole design leans on: a replay rewrites its own point."""
    async with InfluxClient(influx_settings) as db:
        await db.ensure_database()
        p = Point("m", {"qty": 3.0}, 1_764_000_000_000, {"bin": "A1"})
        for _ in range(3):
            await db.write([p])
        (series,) = await db.query('SELECT count("qty") FROM "m"')
        assert series.values[0][1] == 1


async def test_large_batch_is_gzipped_and_accepted(influx_settings: InfluxSettings) -> None:
    """`gzip: on` compresses (as `auto` does for an InfluxDB on another host)."""
    async with InfluxClient(influx_settings.model_copy(update={"gzip": "on"})) as db:
        await db.ensure_database()
        points = [
            Point("m", {"v": float(i)}, 1_764_000_000_000 + i, {"bin": f"B{i % 7}"})
            for i in range(5000)
        ]
        sent = await db.write(points)
        assert sent < 5000 * 30  # compressed well below the raw size
        (series,) = await db.query('SELECT count("v") FROM "m"')
        assert series.values[0][1] == 5000


async def test_a_loopback_influxdb_gets_plain_writes(influx_settings: InfluxSettings) -> None:
    """`auto` on loopback: compressing would only cost CPU on both sides."""
    assert influx_settings.gzip == "auto"
    async with InfluxClient(influx_settings) as db:
        await db.ensure_database()
        points = [Point("m", {"v": float(i)}, 1_764_000_000_000 + i) for i in range(5000)]
        sent = await db.write(points)
        assert sent > 5000 * 20  # sent as it is
        (series,) = await db.query('SELECT count("v") FROM "m"')
        assert series.values[0][1] == 5000


@pytest.mark.parametrize(
    ("url", "gzip", "compressed"),
    [
        ("http://127.0.0.1:8086", "auto", False),
        ("http://127.3.4.5:8086", "auto", False),
        ("http://localhost:8086", "auto", False),
        ("http://[::1]:8086", "auto", False),
        ("http://influxdb:8086", "auto", True),
        ("https://10.1.2.3:8086", "auto", True),
        ("http://127.0.0.1:8086", "on", True),
        ("http://influxdb:8086", "off", False),
    ],
)
def test_when_writes_are_compressed(url: str, gzip: str, compressed: bool) -> None:
    assert InfluxSettings(url=url, gzip=gzip).compress_writes is compressed


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tag=awkward, text=st.text(max_size=40).filter(lambda s: "\x00" not in s))
async def test_awkward_strings_round_trip(
    influx_settings: InfluxSettings, tag: str, text: str
) -> None:
    async with InfluxClient(influx_settings) as db:
        await db.ensure_database()
        await db.write(
            [Point("odd meas,x", {"s": text, "f": 1.0}, 1_764_000_000_000, {"t,a=g": tag})]
        )
        series = await db.query(
            f'SELECT "s" FROM {quote_ident("odd meas,x")} WHERE {quote_ident("t,a=g")} = $v',
            {"v": tag},
        )
        assert series, f"nothing back for tag {tag!r}"
        assert series[0].values[-1][1] == text
        await db.query(f"DROP SERIES FROM {quote_ident('odd meas,x')}", post=True)


async def test_bind_parameters_stop_injection(influx_settings: InfluxSettings) -> None:
    async with InfluxClient(influx_settings) as db:
        await db.ensure_database()
        await db.write([Point("m", {"v": 1.0}, 1_764_000_000_000, {"site": "s1"})])
        evil = "s1' OR 1=1; DROP DATABASE \"" + influx_settings.database + '"; --'
        assert await db.query('SELECT "v" FROM "m" WHERE "site" = $site', {"site": evil}) == []
        (series,) = await db.query('SELECT "v" FROM "m" WHERE "site" = $site', {"site": "s1"})
        assert series.values[0][1] == 1.0


async def test_errors_are_storage_errors(influx_settings: InfluxSettings) -> None:
    async with InfluxClient(influx_settings) as db:
        with pytest.raises(StorageError) as bad_db:
            await db.write([Point("m", {"v": 1.0}, 1_764_000_000_000)])  # database not created
        assert bad_db.value.status == 404
        assert not bad_db.value.retryable
        with pytest.raises(StorageError, match="error parsing query") as syntax:
            await db.query("SELECT FROM WHERE")
        assert syntax.value.status == 400
        assert not syntax.value.retryable
        with pytest.raises(StorageError, match="InfluxQL error: database not found"):
            await db.query('SELECT * FROM "m"')


async def test_server_down_is_retryable(private_influxdb: InfluxServer) -> None:
    private_influxdb.stop()
    async with InfluxClient(InfluxSettings(url=private_influxdb.url, timeout_s=2)) as db:
        with pytest.raises(StorageError) as down:
            await db.ping()
        assert down.value.retryable


async def test_the_contracts_extremes_are_stored(influx_settings: InfluxSettings) -> None:
    """Whatever the contract admits, InfluxDB takes: the largest and smallest
    numbers, through the collector's own hot-path encoders."""
    from gudang.collector.movements import Movement
    from gudang.collector.points import movement_line, reading_line
    from gudang.contract import WeightReading
    from gudang.contract.ids import INT64_MAX, MAX_MAGNITUDE

    base = {"device_id": "d", "boot_id": "b", "unit": "t", "stable": True, "reason": "change"}
    weights = [MAX_MAGNITUDE, -MAX_MAGNITUDE, 5e-324, -0.0, 1e-300]
    lines = [
        reading_line(
            f"reading,channel={i}",
            WeightReading.model_validate(
                {**base, "seq": INT64_MAX, "ts": 4_102_444_799_999 - i, "weight": w}
            ),
        )
        for i, w in enumerate(weights)
    ]
    lines.append(
        movement_line("movement", Movement(946_684_800_000, "anomaly", 1e15, -1e15, 5e-324))
    )
    async with InfluxClient(influx_settings) as db:
        await db.ensure_database()
        await db.write_lines(("\n".join(lines) + "\n").encode())
        (readings,) = await db.query('SELECT "seq", "weight_kg" FROM "reading"')
        (moves,) = await db.query('SELECT * FROM "movement"')
    rows = readings.rows()
    assert sorted(r["weight_kg"] for r in rows) == sorted(w * 1000 for w in weights)
    assert {r["seq"] for r in rows} == {INT64_MAX}
    assert moves.rows()[0]["pieces_exact"] == 5e-324
