"""Where a simulated device's bytes go: a pseudo-terminal or a TCP port.

A pty port links its slave path at the configured device path (the way udev
links /dev/serial/by-id/...), so the edge opens the same path a real site
would. Unplugging closes the pty and removes the link; plugging in again makes
a new pty behind the same link, as a USB adapter re-enumerating does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import termios
import tty
from collections.abc import Callable
from pathlib import Path

__all__ = ["PtyPort", "SimPort", "TcpPort"]


Receiver = Callable[[bytes], None]


class SimPort:
    """A byte channel to the edge that can be unplugged and plugged in again.

    What the edge sends goes to ``receiver`` (devices that answer commands set it).
    """

    receiver: Receiver | None = None

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def describe(self) -> str:
        return ""

    @property
    def plugged(self) -> bool:
        return False


class PtyPort(SimPort):
    def __init__(self, link: Path) -> None:
        self.link = Path(link)
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def slave_path(self) -> str | None:
        return os.ttyname(self._slave) if self._slave is not None else None

    def describe(self) -> str:
        return f"{self.link} -> {self.slave_path or 'unplugged'}"

    async def open(self) -> None:
        if self._master is not None:
            return
        master, slave = pty.openpty()
        tty.setraw(slave, termios.TCSANOW)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)  # atomic: the edge never sees a half-made link
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return
        if data and self.receiver is not None:
            self.receiver(data)

    async def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        if self._master is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def write(self, data: bytes) -> None:
        if self._master is None:
            return
        # A real indicator transmits whether or not anyone listens: when the
        # pty buffer is full (nobody reading), the bytes are simply lost.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)


class TcpPort(SimPort):
    """A serial-to-Ethernet converter: raw bytes to every connected client."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def plugged(self) -> bool:
        return self._server is not None

    def describe(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    async def open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while data := await reader.read(1024):
                if self.receiver is not None:
                    self.receiver(data)
        finally:
            self._clients.discard(writer)
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._clients):
                w.close()
            self._clients.clear()
            await self._server.wait_closed()
            self._server = None

    def write(self, data: bytes) -> None:
        for w in list(self._clients):
            if w.is_closing():
                self._clients.discard(w)
            elif w.transport.get_write_buffer_size() < 65536:
                w.write(data)
