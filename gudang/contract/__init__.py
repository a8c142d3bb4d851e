"""The message contract between edge, collector and api: topics and payload models."""

from gudang.contract.ids import IDENT_PATTERN, EpochMillis, Ident, now_ms
from gudang.contract.messages import (
    SCHEMA_VERSION,
    Alert,
    AlertAck,
    Calibrate,
    CalibrationResult,
    Command,
    CommandReply,
    DeadLetter,
    DeviceMessage,
    DeviceStatus,
    LocalizedText,
    MassUnit,
    TagEvent,
    WeightReading,
)
from gudang.contract.topics import ROOT, TOPICS, ParsedTopic, TopicKind, TopicSpec, parse, topic

__all__ = [
    "IDENT_PATTERN",
    "ROOT",
    "SCHEMA_VERSION",
    "TOPICS",
    "Alert",
    "AlertAck",
    "Calibrate",
    "CalibrationResult",
    "Command",
    "CommandReply",
    "DeadLetter",
    "DeviceMessage",
    "DeviceStatus",
    "EpochMillis",
    "Ident",
    "LocalizedText",
    "MassUnit",
    "ParsedTopic",
    "TagEvent",
    "TopicKind",
    "TopicSpec",
    "WeightReading",
    "now_ms",
    "parse",
    "topic",
]
