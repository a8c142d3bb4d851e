"""Split a site's work between collector members without splitting what must
stay together. Pure.

A collector must see every reading of a bin (consecutive levels make a
movement), every bin of a SKU (its total raises the stock alerts) and the
badge reader of a bin's rack (attribution). So the unit of work is a
**group**: devices, bins and SKUs connected through those relations (a SKU
whose bins hang on two scales keeps both scales together; a reader joins
the bins of the rack it watches).

Groups go to members by rendezvous hashing (highest random weight): each
(group, member) pair gets a score from a stable hash, the best member wins.
Every member computes the same answer from the site file alone, and going
from N to N+1 members moves only the groups the new member wins (about 1 in
N+1), never groups between the old ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from gudang.site import Site

__all__ = ["Group", "Partition", "assign", "expected_rate", "groups", "revision"]


@dataclass
class Group:
    """Devices, bins and SKUs that one member must handle together."""

    key: str  # stable: the smallest device id in it
    devices: set[str] = field(default_factory=set)
    bins: set[str] = field(default_factory=set)
    skus: set[str] = field(default_factory=set)


@dataclass
class Partition:
    """What one member handles."""

    member: int
    groups: list[Group] = field(default_factory=list)

    @property
    def devices(self) -> set[str]:
        return {d for g in self.groups for d in g.devices}

    @property
    def bins(self) -> set[str]:
        return {b for g in self.groups for b in g.bins}

    @property
    def skus(self) -> set[str]:
        return {s for g in self.groups for s in g.skus}


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def groups(site: Site) -> list[Group]:
    """The site's groups, by key. A device with no bins (an idle scale, a
    reader whose rack has none) is a group of its own."""
    u = _Union()
    for d in site.devices:
        u.find(f"d:{d.id}")
    rack_bins: dict[str, list[str]] = {}
    for b in site.bins:
        u.join(f"d:{b.device}", f"b:{b.id}")
        u.join(f"b:{b.id}", f"s:{b.sku}")
        rack_bins.setdefault(b.rack, []).append(b.id)
    for d in site.devices:
        if d.bay is not None:
            for bin_id in rack_bins.get(d.bay, []):
                u.join(f"d:{d.id}", f"b:{bin_id}")
    found: dict[str, Group] = {}
    for node in list(u.parent):
        root = u.find(node)
        g = found.setdefault(root, Group(key=""))
        kind, name = node.split(":", 1)
        {"d": g.devices, "b": g.bins, "s": g.skus}[kind].add(name)
    out = []
    for g in found.values():
        if not g.devices:
            continue  # a SKU without bins: nothing reads it
        g.key = min(g.devices)
        out.append(g)
    return sorted(out, key=lambda g: g.key)


def revision(site: Site) -> str:
    """A digest of the site's groups (what decides the assignment): members
    that disagree on it would split the work differently."""
    text = "\n".join(f"{g.key}|{','.join(sorted(g.devices))}|{','.join(sorted(g.bins))}|"
                     f"{','.join(sorted(g.skus))}" for g in groups(site))  # fmt: skip
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _score(key: str, member: int) -> int:
    digest = hashlib.blake2b(f"{key}\0{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(site: Site, members: int) -> list[Partition]:
    """Each member's partition (index 0..members-1)."""
    if members < 1:
        raise ValueError("at least one member")
    parts = [Partition(i) for i in range(members)]
    for g in groups(site):
        best = max(range(members), key=lambda m: _score(g.key, m))
        parts[best].groups.append(g)
    return parts


def expected_rate(
    site: Site, devices: set[str], heartbeat_s: float, changes_per_hour: float
) -> float:
    """Messages a second the collector can expect from these devices: a scale
    sends a heartbeat every `heartbeat_s` and, per change, the new level
    once it settles (plus one in motion, as the edge reports both); a reader
    sends an arrival and a departure per badge."""
    per_change = 2.0
    rate = 0.0
    for d in site.devices:
        if d.id in devices:
            beat = 1.0 / heartbeat_s if d.kind == "scale" else 0.0
            rate += beat + per_change * changes_per_hour / 3600.0
    return rate
