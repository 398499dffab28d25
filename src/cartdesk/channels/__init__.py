"""Channels: adapters that carry messages between customers and conversations.

``base`` defines the adapter protocol and the normalised inbound message,
``registry`` maps channel names to adapters, ``api`` is the built-in API channel.
Each further channel lives in its own sub-package (``channels/email`` ...).
"""
