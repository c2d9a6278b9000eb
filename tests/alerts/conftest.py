from __future__ import annotations

from tests.notify.conftest import delivery_settings, smtp

__all__ = ["delivery_settings", "smtp"]  # shared fixtures: a real SMTP server and settings pointing at it
