"""Scenario files: what happens at the racks, step by step.

initial: {A1: 40, B1: 300}        # quantities in each SKU's unit (optional)
repeat: true                      # start again after the last step
steps:
  - wait: 5                       # seconds
  - take: {bin: A1, qty: 2}       # any operation of gudang.sim.ops,
  - put: {bin: B1, qty: 120}      # written as {op_name: {arguments}}
  - unplug: {device: scale-c4}
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML

from gudang import logs
from gudang.errors import ConfigError, ConfigProblem
from gudang.runtime import sleep_or_stop
from gudang.sim.ops import OP_ADAPTER, Op
from gudang.sim.site import SimError, SimSite

__all__ = ["Scenario", "load_scenario", "run_scenario"]

log = logs.get("sim.scenario")


class Wait(BaseModel):
    model_config = ConfigDict(frozen=True)
    seconds: float = Field(ge=0, le=86_400)


Step = Wait | Op


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    initial: dict[str, float] = Field(default_factory=dict)
    repeat: bool = False
    steps: list[Step] = Field(default_factory=list)

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, raw: Any) -> list[Any]:
        out: list[Any] = []
        for item in raw or []:
            if not isinstance(item, dict) or len(item) != 1:
                raise ValueError("each step is one {operation: arguments} mapping")
            ((name, args),) = item.items()
            if name == "wait":
                out.append(Wait(seconds=args))
            else:
                out.append(OP_ADAPTER.validate_python({"op": name, **(args or {})}))
        return out


def load_scenario(path: str | Path) -> Scenario:
    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
        return Scenario.model_validate(data or {})
    except ValidationError as exc:
        problems = [
            ConfigProblem(".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(str(path), problems) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), [ConfigProblem("", str(exc))]) from exc


async def run_scenario(sim: SimSite, scenario: Scenario, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for step in scenario.steps:
            if stop.is_set():
                return
            if isinstance(step, Wait):
                await sleep_or_stop(stop, step.seconds)
                continue
            try:
                await sim.apply(step)
            except SimError as exc:
                log.warning("scenario_step_skipped", step=step.model_dump(), error=str(exc))
        if not scenario.repeat:
            return
        if not scenario.steps:
            return
