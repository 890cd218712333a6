"""Supervision: reminders, channels, messages, the scheduler and look-backs. Imports engine.core only."""
