"""The API's MQTT side: what the collector and the edges announce (retained
alerts, device and edge status, calibration results) kept in memory, and the
requests the API sends to the component that owns the state (acknowledging
an alert, calibrating a bin). The API never changes alerts or calibration
itself: the collector stays their only writer (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from typing import Any

import aiomqtt
from pydantic import ValidationError

from gudang import logs
from gudang.api.hub import EventHub
from gudang.contract import (
    Alert,
    AlertAck,
    Calibrate,
    CalibrationResult,
    Command,
    CommandReply,
    DeviceStatus,
    SkuSettings,
    SkuUpdate,
    TopicKind,
    now_ms,
    parse,
    topic,
)
from gudang.contract.identity import status_mismatch
from gudang.contract.topics import subscription
from gudang.errors import TransportError
from gudang.mqtt import make_client
from gudang.runtime import sleep_or_stop
from gudang.settings import MqttSettings

__all__ = ["Bridge", "BrokerUnavailable"]

log = logs.get("api.bridge")


class BrokerUnavailable(TransportError):
    """The broker is not connected, or did not answer in time."""


class Bridge:
    def __init__(
        self,
        settings: MqttSettings,
        site_id: str,
        hub: EventHub,
        owners: Mapping[str, str],
    ) -> None:
        self.settings = settings
        self.site_id = site_id
        # device -> the edge that reads it (site file): a status counts only
        # when it speaks for its own topic, and a device's only from its edge.
        self.owners = dict(owners)
        self._edge_ids = set(self.owners.values())
        self.hub = hub
        self.alerts: dict[tuple[str, str], Alert] = {}
        self.devices: dict[str, DeviceStatus] = {}
        self.edges: dict[str, DeviceStatus] = {}
        self._client: aiomqtt.Client | None = None
        self._waiting: dict[str, asyncio.Future[Any]] = {}  # request id -> its answer
        self.skus: dict[str, SkuSettings] = {}  # effective settings, as the collector says
        self.settings_version = 0
        self.client_id = f"gudang-api-{site_id}-{os.getpid()}-{secrets.token_hex(2)}"

    @property
    def connected(self) -> bool:
        return self._client is not None

    # -- in -----------------------------------------------------------------------

    def _handle(self, name: str, payload: bytes) -> None:
        parsed = parse(name)
        if parsed is None or parsed.site != self.site_id:
            return
        try:
            if parsed.kind is TopicKind.ALERT:
                key = (parsed.levels["kind"], parsed.levels["subject"])
                if not payload:
                    self.alerts.pop(key, None)
                    return
                alert = Alert.model_validate_json(payload)
                self.alerts[key] = alert
                self.hub.publish({"type": "alert", **alert.model_dump(mode="json")})
            elif parsed.kind in (TopicKind.DEVICE_STATUS, TopicKind.EDGE_STATUS):
                if not payload:
                    return
                status = DeviceStatus.model_validate_json(payload)
                device = parsed.kind is TopicKind.DEVICE_STATUS
                topic_id = parsed.levels["device_id" if device else "edge_id"]
                known = topic_id in self.owners if device else topic_id in self._edge_ids
                problem = status_mismatch(parsed.kind, topic_id, status, self.owners.get(topic_id))
                if problem is not None or not known:
                    why = problem[1] if problem is not None else "not in the site file"
                    log.warning("status_ignored", topic=name, reason=why)
                    return
                book = self.devices if device else self.edges
                book[status.id] = status
                self.hub.publish({"type": "status", **status.model_dump(mode="json")})
            elif parsed.kind is TopicKind.SKU_SETTINGS:
                if not payload:
                    return
                settings = SkuSettings.model_validate_json(payload)
                self.skus[settings.sku] = settings
                self.settings_version += 1
                self._answer(settings.request, settings)
            elif parsed.kind is TopicKind.COMMAND_REPLY:
                reply = CommandReply.model_validate_json(payload)
                self._answer(reply.id, reply)
            elif parsed.kind is TopicKind.CALIBRATION_RESULT:
                result = CalibrationResult.model_validate_json(payload)
                self._answer(result.id, result)
        except ValidationError as exc:
            # Not ours to dead-letter (the collector does for its inputs): note and go on.
            log.warning("invalid_message", topic=name, error=str(exc.errors()[0]["msg"]))

    def _answer(self, request_id: str | None, answer: object) -> None:
        """Hand an answer to the request waiting for it (if any still is)."""
        fut = self._waiting.pop(request_id or "", None)
        if fut is not None and not fut.done():
            fut.set_result(answer)

    async def run(self, stop: asyncio.Event) -> None:
        filters = [
            subscription(TopicKind.ALERT, self.site_id),
            subscription(TopicKind.DEVICE_STATUS, self.site_id),
            subscription(TopicKind.EDGE_STATUS, self.site_id),
            subscription(TopicKind.CALIBRATION_RESULT, self.site_id),
            subscription(TopicKind.SKU_SETTINGS, self.site_id),
            subscription(TopicKind.COMMAND_REPLY, self.site_id),
        ]
        backoff = 0.5
        while not stop.is_set():
            try:
                async with make_client(self.settings, self.client_id) as client:
                    for f in filters:
                        await client.subscribe(f, qos=1)
                    self._client = client
                    backoff = 0.5
                    log.info("mqtt_connected", host=self.settings.host, port=self.settings.port)
                    reader = asyncio.ensure_future(self._read(client))
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    stopper.cancel()
                    reader.cancel()
                    if reader.done() and not reader.cancelled() and reader.exception():
                        raise reader.exception()  # type: ignore[misc]
            except aiomqtt.MqttError as exc:
                log.warning("mqtt_unavailable", error=str(exc), retry_in_s=backoff)
            except Exception as exc:  # a bug: say so, and keep the API's view alive
                log.exception("bridge_failed", error=repr(exc), retry_in_s=backoff)
            finally:
                self._client = None
            if await sleep_or_stop(stop, backoff):
                return
            backoff = min(backoff * 2, 10.0)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self._handle(str(message.topic), payload)

    # -- out ----------------------------------------------------------------------

    async def _publish(self, name: str, body: bytes) -> None:
        client = self._client
        if client is None:
            raise BrokerUnavailable("the MQTT broker is not connected")
        try:
            await asyncio.wait_for(client.publish(name, body, qos=1), 10)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise BrokerUnavailable(f"the MQTT broker did not take the request: {exc}") from exc

    async def acknowledge(self, kind: str, subject: str, by: str, note: str | None) -> None:
        ack = AlertAck(by=by, note=note, ts=now_ms())
        name = topic(TopicKind.ALERT_ACK, self.site_id, kind=kind, subject=subject)
        await self._publish(name, ack.model_dump_json().encode())

    async def _request(
        self, name: str, body: bytes, req_id: str, timeout_s: float, who: str = "the collector"
    ) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = fut
        try:
            await self._publish(name, body)
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"no answer from {who} within {timeout_s:g} s (is it running?)"
            ) from exc
        finally:
            self._waiting.pop(req_id, None)

    async def calibrate(
        self, bin_id: str, op: str, by: str, pieces: int | None = None, timeout_s: float = 10.0
    ) -> CalibrationResult:
        req = Calibrate(id=secrets.token_hex(8), op=op, pieces=pieces, by=by, ts=now_ms())
        name = topic(TopicKind.CALIBRATE, self.site_id, bin_id=bin_id)
        return await self._request(name, req.model_dump_json().encode(), req.id, timeout_s)  # type: ignore[no-any-return]

    async def command(
        self, device_id: str, op: str, by: str, timeout_s: float = 10.0
    ) -> CommandReply:
        """Tare, zero or re-read a device through its edge; its reply."""
        cmd = Command(id=secrets.token_hex(8), op=op, ts=now_ms(), issued_by=by)
        name = topic(TopicKind.COMMAND, self.site_id, device_id=device_id)
        body = cmd.model_dump_json().encode()
        return await self._request(name, body, cmd.id, timeout_s, "the device's edge")  # type: ignore[no-any-return]

    async def update_sku(
        self, sku_id: str, changes: dict[str, float], by: str, timeout_s: float = 10.0
    ) -> SkuSettings:
        req = SkuUpdate(id=secrets.token_hex(8), by=by, ts=now_ms(), **changes)
        name = topic(TopicKind.SKU_UPDATE, self.site_id, sku_id=sku_id)
        return await self._request(name, req.model_dump_json().encode(), req.id, timeout_s)  # type: ignore[no-any-return]
