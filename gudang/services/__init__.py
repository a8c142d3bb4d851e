"""Local server processes for tests, benchmarks and the demo (never system services)."""

from gudang.services.child import GudangProcess
from gudang.services.influxd import InfluxServer
from gudang.services.mosquitto import MosquittoServer
from gudang.services.process import LocalServer, find_binary, free_port

__all__ = [
    "GudangProcess",
    "InfluxServer",
    "LocalServer",
    "MosquittoServer",
    "find_binary",
    "free_port",
]
