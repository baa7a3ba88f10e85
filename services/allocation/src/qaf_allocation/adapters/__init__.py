"""Outbound: the PostgreSQL repository."""
