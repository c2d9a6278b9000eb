"""Early warnings and alerts to organisations and communities, with acknowledgement tracking."""
