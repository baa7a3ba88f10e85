"""Inbound: the HTTP router, the CLI's extra commands, the background overdue sweep."""
