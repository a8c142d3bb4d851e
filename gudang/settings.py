"""Service settings (where the broker and database are), from the environment.

Variables use the prefix ``GUDANG_`` and ``__`` between levels, e.g.
``GUDANG_MQTT__HOST``, ``GUDANG_INFLUX__TOKEN``. The site itself (devices,
bins, SKUs) is the site file, not a setting. Secrets are ``SecretStr`` so they
never appear in a repr or a log line.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gudang.webtargets import TargetPolicy

# Where `gudang demo` keeps its state; the commands that act on a running demo
# (`sim-control`, `api-key --demo`) look there.
DEMO_WORKDIR = Path("var/demo")

__all__ = ["ApiSettings", "InfluxSettings", "MqttSettings", "Settings"]


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = Field(
        default=None, description="CA bundle for TLS; system CAs if unset."
    )
    keepalive: int = Field(default=30, ge=5, le=3600)


class InfluxSettings(BaseModel):
    url: str = "http://127.0.0.1:8086"
    database: str = Field(default="gudang", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    username: str | None = Field(default=None, description="InfluxDB 1.x user.")
    password: SecretStr | None = None
    token: SecretStr | None = Field(default=None, description="InfluxDB 2.x/3.x token.")
    auth_scheme: Literal["Token", "Bearer"] = Field(
        default="Token", description="`Token` for 2.x, `Bearer` (or Token) for 3.x."
    )
    timeout_s: float = Field(default=10.0, gt=0)
    gzip: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Compress writes: `auto` does unless InfluxDB is on this host "
        "(loopback: compressing only costs CPU on both sides).",
    )

    @property
    def compress_writes(self) -> bool:
        if self.gzip != "auto":
            return self.gzip == "on"
        host = (urlsplit(self.url).hostname or "").lower()
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True  # a name: another machine, as far as we can tell


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    state_file: Path = Field(
        default=Path("gudang-api.db"),
        description="The API's own state: keys (hashed; `gudang api-key`), webhook "
        "subscriptions and their delivery log. Keep it private (it holds webhook secrets).",
    )
    live_poll_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the live view asks InfluxDB for news."
    )
    webhook_retry_s: float = Field(
        default=2.0,
        gt=0,
        le=600,
        description="Webhook retries wait this, then twice as long each time (5 attempts).",
    )
    live_full_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often it re-reads every bin's last level (catches points with old "
        "device times, e.g. replayed after an outage).",
    )
    consumption_refresh_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="How often it re-reads each SKU's picks per day (consumption rates, days "
        "of cover).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="A request body larger than this is refused (413) before it is read; "
        "a body without Content-Length is refused (411).",
    )
    request_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A request's headers, and then its body, must arrive within this; a "
        "slower one is closed (headers) or answered 408 (body).",
    )
    keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="An idle kept-alive connection is closed after this."
    )
    max_connections: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Connections served at once; beyond, a request is answered 503 at once. "
        "Keep it below the process's open-file limit.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GUDANG_", env_nested_delimiter="__", extra="ignore"
    )

    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    api: ApiSettings = ApiSettings()
    webhook_allow: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) webhooks may reach although not global internet "
        'addresses, e.g. ["10.0.5.20/32"] for an ordering system on the LAN.',
    )
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("webhook_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for n in value:
            try:
                ipaddress.ip_network(n, strict=False)
            except ValueError as exc:
                raise ValueError(f"{n!r} is not a network (e.g. 10.0.5.0/24): {exc}") from None
        return value

    def webhook_policy(self, api: bool = False) -> TargetPolicy:
        """Where webhooks may go: never InfluxDB, nor (`api`) the API itself."""
        deny = []
        influx = urlsplit(self.influx.url)
        if influx.hostname:
            deny.append((influx.hostname, influx.port or (443 if influx.scheme == "https" else 80)))
        if api:
            deny.append((self.api.host, self.api.port))
        return TargetPolicy(self.webhook_allow, deny)
