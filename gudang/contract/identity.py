"""Does a status payload speak for the subject its topic names?

A status is retained and changes what everyone believes about a device or an
edge, so the identity in the payload must be the one in the topic: a broker
ACL lets an edge publish only on its own topics, and this check makes sure
that what it says there is about itself, not another edge or device. Used by
the collector (which dead-letters a mismatch) and the API (which ignores it).
"""

from __future__ import annotations

from gudang.contract.messages import DeadLetterCode, DeviceStatus
from gudang.contract.topics import TopicKind

__all__ = ["status_mismatch"]


def status_mismatch(
    kind: TopicKind, topic_id: str, status: DeviceStatus, owner: str | None
) -> tuple[DeadLetterCode, str] | None:
    """Why `status`, received on a status topic naming `topic_id`, is not to be
    believed; None when it is. `owner`: for a device, the edge that reads it
    according to the site file (None when unknown or for an edge status)."""
    subject = "device" if kind is TopicKind.DEVICE_STATUS else "edge"
    if status.subject != subject:
        return "identity_mismatch", f"a {status.subject} status on a {subject} status topic"
    if status.id != topic_id:
        return (
            "identity_mismatch",
            f"the payload speaks for {subject} {status.id!r}, the topic for {topic_id!r}",
        )
    if subject == "device" and owner is not None and status.edge not in (None, owner):
        return "not_owner", f"device {topic_id!r} is read by edge {owner!r}, not {status.edge!r}"
    return None
