"""Duplicate suppression by (device_id, boot_id, seq), in bounded memory.

Per stream (device, boot) it keeps the highest seq below which everything was
seen, and the seqs seen above it. Only a message it is sure about is called a
duplicate; when memory runs short it forgets (oldest streams first, lowest
seqs first) and a forgotten message is processed again, which is harmless:
every write the collector makes is idempotent. Suppression saves work and
keeps counters honest; correctness does not depend on it.

Asking (``seen``) and remembering (``mark``) are separate steps: the collector
marks a message only once its points are durable, so a message whose handling
failed, or whose batch never reached InfluxDB or the spool, is not taken for
a duplicate when the broker delivers it again.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SeqWindow"]


class _Stream:
    __slots__ = ("above", "floor")

    def __init__(self) -> None:
        self.floor = -1  # every seq <= floor was seen
        self.above: set[int] = set()


class SeqWindow:
    def __init__(self, max_streams: int = 10_000, max_above: int = 4096) -> None:
        self.max_streams = max_streams
        self.max_above = max_above
        self._streams: OrderedDict[tuple[str, str], _Stream] = OrderedDict()
        self.duplicates = 0

    def seen(self, device: str, boot: str, seq: int) -> bool:
        """True if this message was certainly marked before (counted as a duplicate)."""
        stream = self._streams.get((device, boot))
        if stream is not None and (seq <= stream.floor or seq in stream.above):
            self.duplicates += 1
            return True
        return False

    def mark(self, device: str, boot: str, seq: int) -> None:
        """Remember a message whose points are durable."""
        key = (device, boot)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
            if len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
        else:
            self._streams.move_to_end(key)
        if seq <= stream.floor or seq in stream.above:
            return
        if seq == stream.floor + 1:
            stream.floor = seq
            while stream.floor + 1 in stream.above:
                stream.floor += 1
                stream.above.discard(stream.floor)
        else:
            stream.above.add(seq)
            if len(stream.above) > self.max_above:
                stream.above.discard(min(stream.above))  # forget, never assume

    def ranges(self, device: str, boot: str, limit: int = 64) -> list[tuple[int, int]]:
        """The marked seqs of a stream as inclusive ranges, ascending; the
        newest `limit` of them (what the edge may forget)."""
        stream = self._streams.get((device, boot))
        if stream is None:
            return []
        out: list[tuple[int, int]] = [(0, stream.floor)] if stream.floor >= 0 else []
        above = stream.above
        if above:
            lo, hi = min(above), max(above)
            if hi - lo + 1 == len(above):  # the usual case: one run (no sort needed)
                if out and lo == out[-1][1] + 1:
                    return [(0, hi)]
                return [*out, (lo, hi)][-limit:]
        for seq in sorted(above):
            if out and seq == out[-1][1] + 1:
                out[-1] = (out[-1][0], seq)
            else:
                out.append((seq, seq))
        return out[-limit:]
