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


class Status(_Op):
    op: Literal["status"]


Op = Annotated[
    SetQty | Take | Put | SetLoad | Unplug | Plug | Garbage | Corrupt | Status,
    Field(discriminator="op"),
]
OP_ADAPTER: TypeAdapter[Op] = TypeAdapter(Op)
