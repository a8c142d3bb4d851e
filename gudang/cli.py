"""The one command line: ``gudang <part>`` runs each part of the system."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console

from gudang import __version__, logs
from gudang.errors import ConfigError, GudangError
from gudang.settings import DEMO_WORKDIR, Settings
from gudang.site import Site, load_site

if TYPE_CHECKING:
    from gudang.api.keys import KeyStore

app = typer.Typer(
    name="gudang",
    help="Automatic stock counting for metal warehouses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, as click prints it: rich panels showed a type for every flag
    # ("--help <bool>", as if it took a value).
    rich_markup_mode=None,
)
err = Console(stderr=True, soft_wrap=True)
stdout = Console(soft_wrap=True)

SPOOL_DEFAULT = Path("gudang-collector-spool.db")
STATE_DEFAULT = Path("gudang-collector-state.db")

SiteOpt = typer.Option(
    ..., "--site", "-s", envvar="GUDANG_SITE", help="The site file (YAML).", show_default=False
)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        err.print(
            f"[bold red]invalid settings in the environment[/]: {exc.error_count()} problem(s)"
        )
        for e in exc.errors(include_url=False):
            name = "GUDANG_" + "__".join(str(p).upper() for p in e["loc"])
            err.print(f"  [bold]{name}[/]: {e['msg']}", highlight=False)
        raise typer.Exit(1) from exc
    logs.configure(settings.log_format, settings.log_level)
    return settings


def _site(path: Path) -> Site:
    try:
        return load_site(path)
    except ConfigError as exc:
        _print_config_error(exc)
        raise typer.Exit(1) from exc


def _print_config_error(exc: ConfigError) -> None:
    err.print(f"[bold red]{exc.source}[/]: {len(exc.problems)} problem(s)")
    for p in exc.problems:
        where = f"line {p.line}" if p.line is not None else "       "
        err.print(
            f"  [cyan]{where:>8}[/]  [bold]{p.path or '<file>'}[/]: {p.message}", highlight=False
        )


@app.command("check-config")
def check_config(
    file: Path = typer.Argument(..., metavar="FILE", help="The site file to check."),
) -> None:
    """Validate a site file; print every problem with its field path and line."""
    try:
        site = load_site(file)
    except ConfigError as exc:
        _print_config_error(exc)
        raise typer.Exit(1) from exc
    for p in site.warnings:
        where = f"line {p.line}" if p.line is not None else "       "
        err.print(f"  [yellow]warning[/] [cyan]{where}[/]  [bold]{p.path}[/]: {p.message}",
                  highlight=False)  # fmt: skip
    stdout.print(
        f"[green]ok[/] {file}: site {site.site.id}, {len(site.devices)} devices, "
        f"{len(site.bins)} bins, {len(site.skus)} SKUs, {len(site.tags)} tags"
        + (f", {len(site.warnings)} warning(s)" if site.warnings else "")
    )


@app.command()
def edge(
    site_file: Path = SiteOpt,
    edge_id: str = typer.Option(
        "edge-1", "--edge-id", envvar="GUDANG_EDGE_ID", help="Which devices to read."
    ),
    heartbeat: float = typer.Option(30.0, help="Seconds between heartbeat readings."),
    deadband: float = typer.Option(1.0, help="Stable change to publish, in display divisions."),
    outbox: Path | None = typer.Option(
        None,
        envvar="GUDANG_EDGE_OUTBOX",
        help="SQLite outbox file (default: ./gudang-<edge-id>-outbox.db).",
    ),
    outbox_max: int = typer.Option(100_000, help="Messages the outbox holds at most."),
    replay_rate: float = typer.Option(200.0, help="Messages per second at most after an outage."),
    status_interval: float = typer.Option(30.0, help="Seconds between status refreshes."),
    confirm: bool = typer.Option(
        True,
        help="Keep readings and tag events until the collector confirms it has them "
        "(not just the broker); --no-confirm forgets them at the broker's PUBACK.",
    ),
    resend_after: float = typer.Option(
        300.0, min=1.0, help="Seconds before an unconfirmed message is sent again (doubling)."
    ),
) -> None:
    """Read this edge's scales and RFID readers; publish over MQTT via a disk outbox."""
    from gudang.edge.agent import EdgeAgent
    from gudang.runtime import serve

    settings = _settings()
    site = _site(site_file)
    try:
        agent = EdgeAgent(
            site,
            edge_id,
            settings.mqtt,
            outbox_path=outbox or Path(f"gudang-{edge_id}-outbox.db"),
            outbox_max=outbox_max,
            heartbeat_s=heartbeat,
            deadband_divisions=deadband,
            status_interval_s=status_interval,
            replay_rate=replay_rate,
            confirm=confirm,
            resend_after_s=resend_after,
        )
    except ConfigError as exc:
        _print_config_error(exc)
        raise typer.Exit(1) from exc
    serve(agent.run)


@app.command()
def collector(
    site_file: Path = SiteOpt,
    spool: Path = typer.Option(
        SPOOL_DEFAULT,
        envvar="GUDANG_COLLECTOR_SPOOL",
        help="Disk spool for batches InfluxDB could not take.",
    ),
    spool_max_mb: int = typer.Option(
        512,
        min=16,
        help="Spool size limit in MiB (at least 16: room for one full batch); beyond it, "
        "backpressure.",
    ),
    state: Path = typer.Option(
        STATE_DEFAULT,
        envvar="GUDANG_COLLECTOR_STATE",
        help="Alert state, kept across restarts (a partition member's default: "
        "gudang-collector-<I>-state.db, its spool's likewise).",
    ),
    member: int | None = typer.Option(
        None,
        min=0,
        envvar="GUDANG_COLLECTOR_MEMBER",
        help="With --members N: which partition this collector handles, 0..N-1 (stable: it "
        "names the broker session).",
    ),
    members: int | None = typer.Option(
        None,
        min=1,
        envvar="GUDANG_COLLECTOR_MEMBERS",
        help="Split the site into this many static partitions (gudang partitions); this "
        "collector handles partition --member.",
    ),
    metrics_port: int | None = typer.Option(
        None, envvar="GUDANG_COLLECTOR_METRICS_PORT", help="Serve Prometheus metrics on this port."
    ),
    metrics_host: str = typer.Option("127.0.0.1", help="Address for the metrics endpoint."),
    confirm_every: float = typer.Option(
        1.0,
        min=0.0,
        help="Seconds between confirmations to the edges of what is durable (0: none; "
        "edges then need --no-confirm).",
    ),
    forecast_every: float = typer.Option(
        300.0,
        min=0.1,
        envvar="GUDANG_COLLECTOR_FORECAST_EVERY",
        help="Seconds between re-reading each SKU's picks for its stock-out projection "
        "(stockout_projected alerts).",
    ),
) -> None:
    """Turn readings into stock levels, movements and alerts in InfluxDB."""
    from gudang.collector.service import Collector
    from gudang.runtime import serve

    partition = None
    if members is not None or member is not None:
        if members is None or member is None or member >= members:
            last = "N-1" if members is None else members - 1
            err.print(f"[bold red]--members N and --member 0..{last} go together[/] "
                      "(docs/collector.md, Scaling out)")  # fmt: skip
            raise typer.Exit(2)
        partition = (member, members)
        # Members on one host must not share files: the defaults name the member.
        if spool == SPOOL_DEFAULT:
            spool = Path(f"gudang-collector-{member}-spool.db")
        if state == STATE_DEFAULT:
            state = Path(f"gudang-collector-{member}-state.db")
    settings = _settings()
    site = _site(site_file)
    try:
        collector_ = Collector(
            site,
            settings.mqtt,
            settings.influx,
            webhook_policy=settings.webhook_policy(),
            spool_path=spool,
            spool_max_bytes=spool_max_mb * 1024 * 1024,
            state_path=state,
            confirm_every_s=confirm_every,
            forecast_every_s=forecast_every,
            partition=partition,
        )
    except ConfigError as exc:  # e.g. a spool another collector holds
        _print_config_error(exc)
        raise typer.Exit(2) from exc
    if metrics_port is not None:  # the runner serves them, not the collector's constructor
        from gudang.collector.metrics import serve_metrics

        serve_metrics(collector_.metrics, metrics_host, metrics_port)
    try:
        serve(collector_.run)
    except ConfigError as exc:  # e.g. members splitting the site another way
        _print_config_error(exc)
        raise typer.Exit(2) from exc


@app.command()
def api(
    site_file: Path = SiteOpt,
    host: str | None = typer.Option(
        None, help="Listen address (default: GUDANG_API__HOST or 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, help="Listen port (default: GUDANG_API__PORT or 8000)."),
) -> None:
    """Serve the HTTP API."""
    from gudang.api.app import create_app
    from gudang.api.server import run_server
    from gudang.runtime import serve

    settings = _settings()
    listen = settings.api.model_copy(update={"host": host or settings.api.host,
                                             "port": port or settings.api.port})  # fmt: skip
    settings = settings.model_copy(update={"api": listen})
    site = _site(site_file)
    app_ = create_app(site, settings)
    serve(lambda stop: run_server(app_, listen.host, listen.port, stop, listen))


api_key = typer.Typer(
    help="Create, list and revoke API keys (stored hashed).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(api_key, name="api-key")

StateOpt = typer.Option(
    None,
    "--state-file",
    help="The API's state file (default: GUDANG_API__STATE_FILE or ./gudang-api.db).",
)


DemoOpt = typer.Option(
    False,
    "--demo",
    help="Use the state file of the demo running from this directory "
    "(var/demo/api/state.db): its API accepts the key at once.",
)


def _keys(path: Path | None, demo: bool = False) -> KeyStore:
    from gudang.api.keys import KeyStore

    if demo:
        path = DEMO_WORKDIR / "api" / "state.db"
        if not path.is_file():
            err.print(f"[bold red]no demo here[/]: {path} does not exist; start one with "
                      "`make demo` (each run starts fresh: keys made for a previous run "
                      "are gone)")  # fmt: skip
            raise typer.Exit(1)
    return KeyStore(path or Settings().api.state_file)


@api_key.command("create")
def api_key_create(
    name: str = typer.Option(..., help="Who or what uses the key, e.g. ordering-system."),
    scope: str = typer.Option("read", help="read | staff (read + acknowledge) | admin."),
    state_file: Path | None = StateOpt,
    demo: bool = DemoOpt,
) -> None:
    """Create a key and print it once: it is stored only as a hash."""
    store = _keys(state_file, demo)
    try:
        key, token = store.create(name, scope)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    err.print(f"created key [bold]{key.id}[/] ({key.scope}) for {key.name}; "
              "store it now, it is not shown again:")  # fmt: skip
    print(token)


@api_key.command("list")
def api_key_list(state_file: Path | None = StateOpt, demo: bool = DemoOpt) -> None:
    """Every key: id, name, scope, created, revoked (never the secret)."""
    from datetime import UTC, datetime

    from rich.table import Table

    store = _keys(state_file, demo)
    table = Table("id", "name", "scope", "created (UTC)", "revoked (UTC)")

    def when(ms: int | None) -> str:
        return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%F %T")

    for k in store.list():
        table.add_row(k.id, k.name, k.scope, when(k.created_at), when(k.revoked_at))
    store.close()
    stdout.print(table)


@api_key.command("revoke")
def api_key_revoke(
    key_id: str = typer.Argument(..., metavar="KEY_ID", help="The key's id (from `list`)."),
    state_file: Path | None = StateOpt,
    demo: bool = DemoOpt,
) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    store = _keys(state_file, demo)
    done = store.revoke(key_id)
    store.close()
    if not done:
        err.print(f"[bold red]no active key {key_id!r}[/]")
        raise typer.Exit(1)
    stdout.print(f"revoked {key_id}")


@app.command()
def sim(
    site_file: Path = SiteOpt,
    scenario: Path | None = typer.Option(None, help="A scenario file to play."),
    control_port: int | None = typer.Option(None, help="Loopback TCP port for runtime control."),
    rate: float = typer.Option(10.0, help="Samples per second per scale."),
    settle: float = typer.Option(1.5, help="Seconds a scale is in motion after a change."),
    noise: float = typer.Option(
        0.0,
        min=0.0,
        max=0.05,
        help="Load-cell noise as a fraction of capacity (0.0005 = 0.05 %), on top of the "
        "display's one-division flicker.",
    ),
) -> None:
    """Simulate every device of a site on pseudo-terminals and TCP ports."""
    from gudang.runtime import serve
    from gudang.sim.runner import run_sim
    from gudang.sim.scenario import load_scenario

    _settings()
    site = _site(site_file)
    try:
        plan = load_scenario(scenario) if scenario else None
    except ConfigError as exc:
        _print_config_error(exc)
        raise typer.Exit(1) from exc

    async def main(stop: asyncio.Event) -> None:
        await run_sim(
            site,
            stop,
            scenario=plan,
            control_port=control_port,
            rate_hz=rate,
            settle_s=settle,
            noise=noise,
        )

    serve(main)


@app.command("sim-control")
def sim_control(
    op: str = typer.Argument(..., metavar="OP", help="take, put, tag_enter, unplug, ..."),
    fields: list[str] | None = typer.Argument(
        None, metavar="FIELD=VALUE...", help="The operation's fields, e.g. bin=A2 qty=3."
    ),
    port: int | None = typer.Option(
        None, help="The simulator's control port (default: the running demo's)."
    ),
) -> None:
    """Act on a running simulator, e.g. `gudang sim-control take bin=A2 qty=3`.

    Operations and their fields: docs/simulator.md. Quantities are in the
    SKU's unit (pieces, metres or kg).
    """
    from pydantic import ValidationError

    from gudang.sim.control import ControlClient
    from gudang.sim.ops import OP_ADAPTER

    request: dict[str, str] = {"op": op}
    for field in fields or []:
        name, sep, value = field.partition("=")
        if not sep or not name:
            err.print(f"[bold red]{field!r}[/]: fields are NAME=VALUE, e.g. bin=A2")
            raise typer.Exit(2)
        request[name] = value
    try:
        parsed = OP_ADAPTER.validate_python(request)
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            where = ".".join(str(p) for p in e["loc"][1:]) or "op"
            err.print(f"[bold red]{where}[/]: {e['msg']}", highlight=False)
        raise typer.Exit(2) from exc
    if port is None:
        port_file = DEMO_WORKDIR / "sim-control-port"
        try:
            port = int(port_file.read_text())
        except (OSError, ValueError) as exc:
            err.print(f"[bold red]no running demo here[/] ({port_file} not found): "
                      "start one with `make demo`, or give --port")  # fmt: skip
            raise typer.Exit(1) from exc
    try:
        with ControlClient(port) as client:
            answer = client.send(**parsed.model_dump())
    except OSError as exc:
        err.print(f"[bold red]no simulator on 127.0.0.1:{port}[/]: {exc.strerror or exc}")
        raise typer.Exit(1) from exc
    except RuntimeError as exc:  # the simulator's answer {"ok": false, "error": ...}
        err.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from exc
    stdout.print_json(data=answer)


@app.command()
def demo(
    workdir: Path = typer.Option(DEMO_WORKDIR, help="Where the demo keeps its data and logs."),
    api_port: int = typer.Option(8000, help="API port (a free one if this is taken)."),
) -> None:
    """Run the whole system on this machine with simulated devices."""
    from gudang.demo import run_demo

    try:
        sys.exit(run_demo(workdir, api_port))
    except GudangError as exc:
        err.print(f"[bold red]demo failed:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def partitions(
    site_file: Path = SiteOpt,
    members: int = typer.Option(..., help="How many collector members share the site."),
    heartbeat_s: float = typer.Option(
        30.0, min=0.1, help="The edges' --heartbeat: a scale sends a reading at least this often."
    ),
    changes_per_hour: float = typer.Option(
        20.0, min=0.0, help="Picks and puts an hour at a busy scale, or badges at a reader."
    ),
) -> None:
    """Print which devices, bins and SKUs each collector member handles, and
    the readings a second each can expect."""
    from rich.table import Table

    from gudang.partitions import assign, expected_rate, revision

    if members < 1:
        err.print("[bold red]--members must be at least 1[/]")
        raise typer.Exit(2)
    site = _site(site_file)
    parts = assign(site, members)
    rates = [expected_rate(site, p.devices, heartbeat_s, changes_per_hour) for p in parts]
    total = max(sum(rates), 1e-9)
    table = Table("member", "groups", "devices", "bins", "SKUs", "messages/s", "share")
    for p, rate in zip(parts, rates, strict=True):
        table.add_row(f"member {p.member}", str(len(p.groups)), str(len(p.devices)),
                      str(len(p.bins)), str(len(p.skus)), f"{rate:.2f}",
                      f"{100 * rate / total:.0f} %")  # fmt: skip
    stdout.print(table)
    for p in parts:
        stdout.print(f"member {p.member}: {', '.join(sorted(p.devices)) or '-'}", highlight=False)
    stdout.print(
        f"expected: {sum(rates):.2f} messages/s in all (a heartbeat every {heartbeat_s:g} s, "
        f"{changes_per_hour:g} changes an hour a device); one collector drains over 20,000 "
        "readings/s on 2 cores (docs/benchmarks.md)", highlight=False, soft_wrap=True)  # fmt: skip
    stdout.print(f"site revision {revision(site)}: every member must run with the same",
                 highlight=False)  # fmt: skip


@app.command("mqtt-acl")
def mqtt_acl(
    site_file: Path = SiteOpt,
    out: Path | None = typer.Option(None, help="Write here instead of standard output."),
    collector_members: int | None = typer.Option(
        None,
        min=1,
        help="Members of a partitioned collector (its --members N): users collector-0 .. "
        "collector-<N-1> instead of the single user collector.",
    ),
) -> None:
    """Print the Mosquitto ACL for a site: each edge only its devices' topics."""
    from gudang.acl import acl

    text = acl(_site(site_file), collector_members)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        err.print(f"wrote {out}")


@app.command()
def schema(
    out: Path = typer.Option(Path("docs/schema"), help="Folder for the JSON Schema files."),
    contract_doc: Path = typer.Option(
        Path("docs/contract.md"), help="Document with the topic table."
    ),
) -> None:
    """Export the message contract as JSON Schema and refresh the topic table."""
    from gudang.contract import schema as contract_schema

    changed = contract_schema.write(out, contract_doc if contract_doc.exists() else None)
    for path in changed:
        stdout.print(f"wrote {path}")
    if not changed:
        stdout.print("schema files are up to date")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


if __name__ == "__main__":
    app()
