"""A Mosquitto broker on a loopback port with its own config and persistence."""

from __future__ import annotations

import getpass
import socket
import ssl
import subprocess
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
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        extra_config: str = "",
        config: str | None = None,
    ):
        """`users`: name -> password, and anonymous clients are refused;
        `tls`: (certificate chain, key) PEM files for a TLS-only listener;
        `config`: a whole mosquitto.conf to run instead (e.g. the shipped one)."""
        super().__init__(workdir, port)
        self.max_queued_messages = max_queued_messages
        self.users = users
        self.tls = tls
        self.extra_config = extra_config
        self.config = config

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        if self.config is not None:
            conf.write_text(self.config)
            return [find_binary("mosquitto", "mosquitto"), "-c", str(conf)]
        access = "allow_anonymous true\n"
        if self.users is not None:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            for name, password in self.users.items():
                subprocess.run(
                    [
                        find_binary("mosquitto_passwd", "mosquitto"),
                        "-b",
                        str(passwd),
                        name,
                        password,
                    ],
                    check=True,
                    capture_output=True,
                )
            access = f"allow_anonymous false\npassword_file {passwd}\n"
        tls = ""
        if self.tls is not None:
            tls = f"certfile {self.tls[0]}\nkeyfile {self.tls[1]}\n"
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            f"{tls}"
            # Started as root, mosquitto drops to user "mosquitto", which can not
            # write our data directory: stay the user who owns it.
            f"user {getpass.getuser()}\n"
            f"{access}"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 5\n"
            # The default (1000) silently drops QoS 1 messages for a slow or
            # restarting subscriber: size it for a collector restart.
            f"max_queued_messages {self.max_queued_messages}\n"
            # Outgoing QoS 1 in flight per client: no broker-side cap, so a
            # late-acknowledging subscriber is bounded by its own Receive Maximum.
            "max_inflight_messages 0\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "connection_messages false\n"
            f"{self.extra_config}"
        )
        return [find_binary("mosquitto", "mosquitto"), "-c", str(conf)]

    def ready(self) -> bool:
        """A CONNACK of any kind (refusing an anonymous probe counts) means it answers."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as raw:
                if self.tls is None:
                    return _probe(raw)
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE  # a liveness probe, not a trust decision
                with ctx.wrap_socket(raw) as tls:
                    return _probe(tls)
        except OSError:
            return False


def _probe(sock: socket.socket) -> bool:
    sock.sendall(_PROBE_CONNECT)
    return sock.recv(4)[:3] == _CONNACK_OK[:3]
