"""Cartdesk: a self-hostable customer support platform for online stores."""

__version__ = "0.1.0"
