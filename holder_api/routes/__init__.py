"""HTTP routes. Handlers parse, call one service, serialize — nothing else (docs/architecture.md)."""
