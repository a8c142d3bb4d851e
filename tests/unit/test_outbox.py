"""The SQLite outbox: order, acknowledgement, persistence, and the size policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gudang.edge.outbox import Outbox


def put(box: Outbox, kind: str, subject: str, n: int) -> int:
    return box.put(
        f"t/{subject}/{kind}", json.dumps({"n": n}).encode(), retain=kind == "status",
        kind=kind, subject=subject,  # type: ignore[arg-type]
    )  # fmt: skip


def payloads(box: Outbox) -> list[int]:
    return [json.loads(r.payload)["n"] for r in box.peek(10_000)]


def test_fifo_and_ack(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    ids = [put(box, "change", "s1", i) for i in range(5)]
    assert payloads(box) == [0, 1, 2, 3, 4]
    box.ack(ids[0])
    box.ack(ids[0])  # twice is harmless
    assert box.depth == 4
    assert [r.id for r in box.peek(2)] == ids[1:3]


def test_survives_a_crash(tmp_path: Path) -> None:
    """A process that commits and is killed with SIGKILL leaves its rows."""
    path = tmp_path / "o.db"
    code = (
        "import os, signal\n"
        "from gudang.edge.outbox import Outbox\n"
        f"box = Outbox({str(path)!r})\n"
        "for i in range(100): box.put('t', str(i).encode(), retain=False, kind='change', subject='s')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    box = Outbox(path)
    assert box.depth == 100
    assert [r.payload for r in box.peek(3)] == [b"0", b"1", b"2"]
    assert os.path.exists(path)


def test_policy_merges_heartbeats_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=10)
    for i in range(4):
        put(box, "heartbeat", "s1", i)
        put(box, "heartbeat", "s2", 100 + i)
    put(box, "change", "s1", 50)
    put(box, "tag", "r1", 60)
    assert box.depth == 10
    put(box, "change", "s1", 51)
    # older heartbeats of each device are gone; changes and tags all kept
    assert payloads(box) == [3, 103, 50, 60, 51]
    assert box.merged == 6
    assert box.dropped == 0


def test_policy_then_statuses_then_heartbeats_then_oldest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=10)
    put(box, "heartbeat", "s1", 0)
    for i in range(3):
        put(box, "status", "s1", 10 + i)
    for i in range(6):
        put(box, "change", "s1", 20 + i)
    put(box, "change", "s1", 26)  # full: statuses merged
    assert payloads(box) == [0, 12, 20, 21, 22, 23, 24, 25, 26]
    put(box, "change", "s1", 27)
    put(box, "change", "s1", 28)  # full again: the heartbeat goes
    assert payloads(box) == [12, 20, 21, 22, 23, 24, 25, 26, 27, 28]
    put(box, "change", "s1", 29)  # status merged already: oldest dropped
    assert payloads(box)[:2] == [20, 21]
    put(box, "change", "s1", 30)
    assert payloads(box)[0] == 21
    assert box.depth == 10
    assert box.dropped == 3


def test_depth_is_bounded_under_any_mix(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=50)
    kinds = ["change", "heartbeat", "status", "tag", "heartbeat"]
    for i in range(1000):
        put(box, kinds[i % 5], f"s{i % 7}", i)
        assert box.depth <= 50
    assert box.depth == len(box.peek(1000))
    ns = payloads(box)
    assert ns == sorted(ns)  # order is kept


def _reading(box: Outbox, seq: int, boot: str = "b1", subject: str = "s1") -> int:
    return box.put(f"t/{subject}/reading", json.dumps({"n": seq}).encode(), retain=False,
                   kind="change", subject=subject, boot=boot, seq=seq)  # fmt: skip


def test_device_messages_wait_for_the_collectors_confirmation(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", confirm=True, resend_after_s=60)
    ids = [_reading(box, seq) for seq in range(5)]
    status = put(box, "status", "s1", 99)
    for row_id in [*ids, status]:
        box.ack(row_id, now=1000.0)
    # The broker has them all; only the status is forgotten, the rest wait.
    assert box.depth == 5 and box.unconfirmed == 5 and box.peek() == []
    assert box.confirmed("s1", "b1", [(0, 1), (3, 3)]) == 3
    assert box.confirmed("s1", "other-boot", [(0, 10)]) == 0
    assert box.depth == 2 and box.unconfirmed == 2
    # Reconnected: the broker may have lost what it acknowledged; send again, in order.
    assert box.unsend_all() == 2
    assert payloads(box) == [2, 4]


def test_unconfirmed_rows_go_again_later_each_time(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", confirm=True, resend_after_s=60)
    row = _reading(box, 0)
    box.ack(row, now=1000.0)
    assert box.expire(now=1059.0) == 0
    assert box.expire(now=1060.0) == 1  # 60 s after the send
    box.ack(row, now=2000.0)
    assert box.expire(now=2119.0) == 0
    assert box.expire(now=2120.0) == 1  # then 120 s
    assert payloads(box) == [0]


def test_without_confirmation_a_puback_is_enough(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.ack(_reading(box, 0))
    assert box.depth == 0


def test_an_outbox_from_before_confirmation_opens_and_works(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
        " payload BLOB NOT NULL, retain INTEGER NOT NULL, kind TEXT NOT NULL,"
        " subject TEXT NOT NULL);"
    )
    db.execute(
        "INSERT INTO outbox (topic, payload, retain, kind, subject) VALUES (?, ?, 0, ?, ?)",
        ("t", b'{"n": 7}', "change", "s1"),
    )
    db.commit()
    db.close()
    box = Outbox(path, confirm=True)
    assert payloads(box) == [7]
    box.ack(box.peek()[0].id)  # no seq recorded: forgotten on PUBACK, as before
    assert box.depth == 0


def test_the_edge_never_queues_a_message_the_broker_would_refuse(tmp_path: Path) -> None:
    from gudang.contract.messages import MAX_MESSAGE_BYTES
    from gudang.edge.outgoing import Outgoing
    from gudang.edge.publisher import Publisher
    from gudang.settings import MqttSettings

    box = Outbox(tmp_path / "o.db", 100)
    pub = Publisher(MqttSettings(), "s1", "edge-1", "b", "test", box)
    pub.put(Outgoing("t/ok", b"x" * MAX_MESSAGE_BYTES, False, "status", "scale-1"))
    pub.put(Outgoing("t/big", b"x" * (MAX_MESSAGE_BYTES + 1), False, "status", "scale-1"))
    assert box.depth == 1
    assert pub.counters()["too_large"] == 1
    box.close()
