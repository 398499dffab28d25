"""Commerce: the store beside every conversation (products, orders, shipments, returns, refunds)."""
