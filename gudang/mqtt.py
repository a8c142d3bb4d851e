"""One way to build an MQTT client from the settings (credentials, TLS, keepalive)."""

from __future__ import annotations

import ssl

import aiomqtt

from gudang.settings import MqttSettings

__all__ = ["make_client"]


def make_client(
    settings: MqttSettings,
    identifier: str,
    *,
    will: aiomqtt.Will | None = None,
    clean_session: bool | None = None,
) -> aiomqtt.Client:
    tls = ssl.create_default_context(cafile=settings.ca_file) if settings.tls else None
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        identifier=identifier,
        will=will,
        clean_session=clean_session,
        keepalive=settings.keepalive,
        tls_context=tls,
        timeout=10,
    )
