"""Automation: what runs the platform when nobody types a command (sensors, schedule, conditions, alerts)."""
