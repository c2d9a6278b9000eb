"""The `cybercrisis` command: one module per command group."""
