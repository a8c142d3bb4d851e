"""The Mosquitto ACL for a site, from the site file: each edge may publish
only its own devices' topics, the collector and the API only theirs.

MQTT users are the edge ids (one credential per edge PC), `collector` (or
`collector-<I>` for each member I of a partitioned collector), `api`, and
`monitor` (the broker's healthcheck: `$SYS` only). The broker config ties
each session to its user (`use_username_as_clientid`), so one user can never
take over another's session. Anonymous clients are refused
(allow_anonymous false). Generated, not hand-written, so that adding a device
to the site file and regenerating keeps the ACL in step:
``gudang mqtt-acl --site FILE``.
"""

from __future__ import annotations

from gudang.contract import ROOT
from gudang.site import Site

__all__ = ["acl", "collector_users"]


def collector_users(members: int | None = None) -> list[str]:
    """The collector's MQTT users: `collector`, or `collector-<I>` for each
    member of a partitioned one (`gudang collector --members N --member I`).
    One user each: the broker names each session after its user, and two
    members sharing one would take each other's session over. Every member
    may use every collector topic: the partition is the members' own
    agreement, and a member's topics change with N and the site file."""
    return [f"collector-{i}" for i in range(members)] if members else ["collector"]


def acl(site: Site, collector_members: int | None = None) -> str:
    p = f"{ROOT}/{site.site.id}"
    out = [
        f"# Mosquitto ACL for site {site.site.id}, made by `gudang mqtt-acl` from the site file.",
        "# Regenerate after adding or moving a device; the broker reloads it on SIGHUP.",
    ]
    for user in collector_users(collector_members):
        out += ["", f"user {user}", *_collector_topics(p)]
    out += [
        "",
        "user api",
        f"topic read {p}/alert/+/+",
        f"topic read {p}/device/+/status",
        f"topic read {p}/edge/+/status",
        f"topic read {p}/calibration/+/result",
        f"topic read {p}/sku/+/settings",
        f"topic read {p}/device/+/cmd/reply",
        f"topic write {p}/alert/+/+/ack",
        f"topic write {p}/calibration/+",
        f"topic write {p}/sku/+/update",
        f"topic write {p}/device/+/cmd",
        "",
        # The healthcheck and an operator watching refusals: its own session,
        # nothing it can change.
        "user monitor",
        "topic read $SYS/broker/uptime",
        f"topic read {p}/deadletter/#",
    ]
    edges = sorted({d.edge for d in site.devices})
    for edge in edges:
        out += ["", f"user {edge}", f"topic write {p}/edge/{edge}/status",
                f"topic read {p}/collector/+/status"]  # fmt: skip
        for d in sorted((d for d in site.devices if d.edge == edge), key=lambda d: d.id):
            kind = "reading" if d.kind == "scale" else "tag"
            out += [
                f"topic write {p}/device/{d.id}/{kind}",
                f"topic write {p}/device/{d.id}/status",
                f"topic read {p}/device/{d.id}/cmd",
                f"topic read {p}/device/{d.id}/confirmed",
                f"topic write {p}/device/{d.id}/cmd/reply",
            ]
        out.append(f"topic write {p}/deadletter/edge")
    return "\n".join(out) + "\n"


def _collector_topics(p: str) -> list[str]:
    return [
        f"topic read {p}/device/+/reading",
        f"topic read {p}/device/+/tag",
        f"topic read {p}/device/+/status",
        f"topic read {p}/edge/+/status",
        f"topic read {p}/alert/+/+/ack",
        f"topic read {p}/calibration/+",
        f"topic read {p}/sku/+/update",
        f"topic write {p}/alert/+/+",
        f"topic write {p}/calibration/+/result",
        f"topic write {p}/sku/+/settings",
        f"topic write {p}/deadletter/collector",
        f"topic write {p}/device/+/confirmed",
        f"topic write {p}/collector/+/status",
    ]
