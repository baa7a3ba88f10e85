"""Outbound adapters: the PostgreSQL repository."""
