"""Live chat: the embeddable widget, its visitors, and the chat channel adapter."""
