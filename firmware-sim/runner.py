"""``gudang sim``: every simulated device of a site, a control port, a scenario."""

from __future__ import annotations

import asyncio

from gudang import logs
from gudang.sim.control import serve_control
from gudang.sim.scenario import Scenario, run_scenario
from gudang.sim.site import SimSite
from gudang.site import Site

__all__ = ["run_sim"]

log = logs.get("sim")


async def run_sim(
    site: Site,
    stop: asyncio.Event,
    *,
    scenario: Scenario | None = None,
    control_port: int | None = None,
    rate_hz: float = 10.0,
    settle_s: float = 1.5,
    noise: float = 0.0,
) -> None:
    sim = SimSite(site, scenario.initial if scenario else None, rate_hz=rate_hz, settle_s=settle_s,
                  noise=noise)  # fmt: skip
    for device in sim.devices.values():
        await device.port.open()  # ports exist before anyone is told the sim is up
        log.info("sim_device", device=device.device_id, kind=type(device).__name__,
                 port=device.port.describe())  # fmt: skip
    server = await serve_control(sim, "127.0.0.1", control_port) if control_port else None
    tasks = [asyncio.create_task(sim.run(stop))]
    if scenario is not None:
        tasks.append(asyncio.create_task(run_scenario(sim, scenario, stop)))
    log.info("sim_start", devices=len(sim.devices), control_port=control_port)
    try:
        await asyncio.gather(*tasks)
    finally:
        if server is not None:
            server.close()
        log.info("sim_stop")
