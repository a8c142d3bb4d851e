"""The simulator's vocabulary, shared by runtime control and scenario files.

Quantities are in the bin's SKU unit (pieces, metres or kg), so a test or a
scenario says what a person does: "take 3 pieces from bin B2".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gudang.contract.ids import Ident

__all__ = ["OP_ADAPTER", "Op"]


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetQty(_Op):
    op: Literal["set_qty"]
    bin: Ident
    qty: float = Field(ge=0)


class Take(_Op):
    op: Literal["take"]
    bin: Ident
    qty: float = Field(gt=0)


class Put(_Op):
    op: Literal["put"]
    bin: Ident
    qty: float = Field(gt=0)


class SetLoad(_Op):
    op: Literal["set_load"]
    device: Ident
    kg: float = Field(description="Gross kilograms on the load cell.")


class Unplug(_Op):
    op: Literal["unplug"]
    device: Ident


class Plug(_Op):
    op: Literal["plug"]
    device: Ident


class Garbage(_Op):
    op: Literal["garbage"]
    device: Ident
    bytes: int = Field(default=32, ge=1, le=4096)


class Corrupt(_Op):
    op: Literal["corrupt"]
    device: Ident
    frames: int = Field(default=1, ge=1, le=1000)


class Drift(_Op):
    op: Literal["drift"]
    device: Ident
    kg_per_h: float = Field(ge=-1000, le=1000, description="Slow load-cell drift.")


class Refuse(_Op):
    op: Literal["refuse"]
    device: Ident
    commands: int = Field(default=1, ge=1, le=100, description="MT-SICS: answer EL this often.")


class TagEnter(_Op):
    op: Literal["tag_enter"]
    device: Ident
    tag: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{10}$|^([0-9A-Fa-f]{4}){2,16}$")]
    antenna: int = Field(default=0, ge=0, le=63)
    rssi: int = Field(default=-55, ge=-128, le=0)


class TagLeave(_Op):
    op: Literal["tag_leave"]
    device: Ident
    tag: str


class MissRate(_Op):
    op: Literal["miss_rate"]
    device: Ident
    rate: float = Field(ge=0, lt=1, description="Chance a tag is not read in one repetition.")


class Status(_Op):
    op: Literal["status"]


Op = Annotated[
    SetQty
    | Take
    | Put
    | SetLoad
    | Drift
    | Unplug
    | Plug
    | Garbage
    | Corrupt
    | Refuse
    | TagEnter
    | TagLeave
    | MissRate
    | Status,
    Field(discriminator="op"),
]
OP_ADAPTER: TypeAdapter[Op] = TypeAdapter(Op)
