"""An InfluxDB 1.x server (Debian's influxd 1.6.7) on a loopback port."""

from __future__ import annotations

import http.client
from pathlib import Path

from gudang.services.process import LocalServer, find_binary, free_port

__all__ = ["InfluxServer"]


class InfluxServer(LocalServer):
    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None):
        super().__init__(workdir, port)
        self.rpc_port = free_port(self.host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        root = self.workdir
        conf = root / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "{self.host}:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{root / "meta"}"\n'
            f'[data]\n  dir = "{root / "data"}"\n  wal-dir = "{root / "wal"}"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "{self.host}:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            '[logging]\n  level = "warn"\n'
            "[continuous_queries]\n  enabled = false\n"
        )
        return [find_binary("influxd", "influxdb"), "-config", str(conf)]

    def ready(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=0.5)
        try:
            conn.request("GET", "/ping")
            return conn.getresponse().status == 204
        except OSError:
            return False
        finally:
            conn.close()
