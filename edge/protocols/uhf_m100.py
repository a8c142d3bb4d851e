"""UHF EPC Gen2 reader modules of the Magic-RF M100 / R200 family, 115200 8N1.

    BB  type  cmd  PL_H PL_L  data[PL]  checksum  7E
        00 command, 01 response, 02 notification
        checksum = low byte of the sum from `type` to the end of `data`

Tag notification (cmd 22): ``RSSI(1, signed dBm) PC(2) EPC(n) CRC(2)``; the EPC
length n comes from the PC word (bits 15-11, in 16-bit words) and the CRC is
the tag's own CRC-16 over PC+EPC, both checked so that a damaged frame can not
pass as a different tag. ``BB 01 FF 00 01 15 16 7E`` means no tag answered.

Commands encoded here: single poll (22), multi-poll (27, N rounds), stop (28).
"""

from __future__ import annotations

from gudang.edge.protocols.base import Event, Reply, TagRead
from gudang.edge.protocols.framing import StartByteDecoder
from gudang.errors import LocalProtocolError

__all__ = ["MAX_PAYLOAD", "UhfM100Decoder", "multi_poll", "single_poll", "stop"]

HEADER, END = 0xBB, 0x7E
MAX_PAYLOAD = 255
_ERRORS = {0x15: "no_tag", 0x16: "access_password", 0x17: "invalid_command"}


def _frame(type_: int, cmd: int, data: bytes = b"") -> bytes:
    if len(data) > MAX_PAYLOAD:
        raise LocalProtocolError("payload too long")
    body = bytes([type_, cmd, len(data) >> 8, len(data) & 0xFF]) + data
    return bytes([HEADER]) + body + bytes([sum(body) & 0xFF, END])


def single_poll() -> bytes:
    return _frame(0x00, 0x22)


def multi_poll(rounds: int) -> bytes:
    if not 1 <= rounds <= 0xFFFF:
        raise LocalProtocolError("rounds must be 1..65535")
    return _frame(0x00, 0x27, bytes([0x22, rounds >> 8, rounds & 0xFF]))


def stop() -> bytes:
    return _frame(0x00, 0x28)


def crc16_genibus(data: bytes) -> int:
    """CRC-16 as EPC Gen2 tags compute it over PC+EPC (poly 0x1021, init and xor 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


class UhfM100Decoder(StartByteDecoder[Event]):
    start = HEADER

    def frame_size(self, buf: bytearray) -> int | None:
        if len(buf) < 7:
            return None
        length = (buf[3] << 8) | buf[4]
        if buf[1] not in (0x00, 0x01, 0x02) or length > MAX_PAYLOAD:
            self.stats.bad("header")
            return 0
        return 7 + length

    def parse_frame(self, f: bytes) -> Event | None:
        length = len(f) - 7
        if f[-1] != END:
            self.stats.bad("no end mark")
            return None
        if sum(f[1:-2]) & 0xFF != f[-2]:
            self.stats.bad("checksum")
            return None
        type_, cmd, data = f[1], f[2], f[5 : 5 + length]
        if type_ == 0x02 and cmd == 0x22:
            return self._tag(data)
        if type_ == 0x01:
            if cmd == 0xFF and len(data) >= 1:
                return Reply("FF", _ERRORS.get(data[0], f"error_{data[0]:02X}"))
            status = f"{data[0]:02X}" if data else ""
            return Reply(f"{cmd:02X}", status)
        self.stats.bad("unexpected frame")
        return None

    def _tag(self, data: bytes) -> TagRead | None:
        if len(data) < 5:
            self.stats.bad("short tag")
            return None
        pc = (data[1] << 8) | data[2]
        epc_len = (pc >> 11) * 2
        if len(data) != 1 + 2 + epc_len + 2 or epc_len == 0:
            self.stats.bad("tag length")
            return None
        pc_epc = data[1 : 3 + epc_len]
        if crc16_genibus(pc_epc) != (data[-2] << 8) | data[-1]:
            self.stats.bad("tag crc")
            return None
        rssi = data[0] - 256 if data[0] > 127 else data[0]
        return TagRead(pc_epc[2:].hex().upper(), rssi=float(rssi))
