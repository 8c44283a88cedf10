"""Satchel wallet: the vault and everything that comes in (DESIGN.md §2)."""
