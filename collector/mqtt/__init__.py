"""The collector's lean MQTT 5 subscriber: bulk receive, late acknowledgement."""

from gudang.collector.mqtt.codec import Publish
from gudang.collector.mqtt.connection import ConnectionLost, Subscriber

__all__ = ["ConnectionLost", "Publish", "Subscriber"]
