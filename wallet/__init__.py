"""Satchel wallet: the vault and everything that comes in (docs/architecture.md)."""
