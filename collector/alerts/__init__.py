"""Alerts: rules and lifecycle (pure), state on disk, notifications."""
