"""Small typed factories, one module per domain; they go through the real services."""
