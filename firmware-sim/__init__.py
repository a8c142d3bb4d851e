"""Firmware simulators: the device side of each protocol, written independently
of the edge's parsers (see docs/architecture.md, "independent witnesses")."""
