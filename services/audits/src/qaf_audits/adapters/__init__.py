"""Outbound: the PostgreSQL repository and the shipped template files."""
