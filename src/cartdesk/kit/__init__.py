"""Domain-free helpers: errors, clock, pagination, HTML, money."""
