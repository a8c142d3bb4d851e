"""Device sessions: how the edge talks to one device (listen, or poll) and what it publishes."""

from gudang.edge.devices.base import DeviceSession, EdgeContext

__all__ = ["DeviceSession", "EdgeContext"]
