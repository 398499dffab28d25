"""Connectors to store platforms: one protocol (``base.py``), one module per platform, a registry."""
