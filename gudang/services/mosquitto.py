"""A Mosquitto broker on a loopback port with its own config and persistence."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from gudang.services.process import LocalServer, find_binary

__all__ = ["MosquittoServer"]

# MQTT 3.1.1 CONNECT, clean session, keepalive 60, client id "" -> CONNACK 0.
_PROBE_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")
_CONNACK_OK = bytes.fromhex("20020000")


class MosquittoServer(LocalServer):
    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        max_queued_messages: int = 100_000,
        extra_config: str = "",
    ):
        super().__init__(workdir, port)
        self.max_queued_messages = max_queued_messages
        self.extra_config = extra_config

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            # Started as root, mosquitto drops to user "mosquitto", which can not
            # write our data directory: stay the user who owns it.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 5\n"
            # The default (1000) silently drops QoS 1 messages for a slow or
            # restarting subscriber: size it for a collector restart.
            f"max_queued_messages {self.max_queued_messages}\n"
            "max_inflight_messages 100\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "connection_messages false\n"
            f"{self.extra_config}"
        )
        return [find_binary("mosquitto", "mosquitto"), "-c", str(conf)]

    def ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(_PROBE_CONNECT)
                return s.recv(4) == _CONNACK_OK
        except OSError:
            return False
