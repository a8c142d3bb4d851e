"""Opens a device's byte stream: a serial path (pyserial) or socket://host:port."""

from __future__ import annotations

import asyncio
import termios

import serial
import serial_asyncio_fast

from gudang.errors import TransportError
from gudang.site import Device

__all__ = ["open_device"]


async def open_device(
    device: Device, open_timeout_s: float = 5.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the device with its line settings; TransportError when it cannot be."""
    line = device.line
    try:
        return await asyncio.wait_for(
            serial_asyncio_fast.open_serial_connection(
                url=device.port,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=line.parity,
                stopbits=line.stopbits,
                # Indicators are commonly shipped with Xon/Xoff; drivers turn it off.
                xonxoff=False,
                rtscts=False,
            ),
            open_timeout_s,
        )
    except (serial.SerialException, OSError, ValueError, TimeoutError, termios.error) as exc:
        # termios.error is not an OSError: a line setting the port refuses (7E1 on a pty).
        raise TransportError(f"{device.id}: cannot open {device.port}: {exc}") from exc
