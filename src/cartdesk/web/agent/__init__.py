"""The agent workspace: login, inbox, conversations, customers."""
