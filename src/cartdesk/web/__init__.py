"""The HTML side of Cartdesk: the agent app (and later the help center, portal and widget)."""
