"""HTTP routes. Handlers parse, call one service, serialize — nothing else (DESIGN §2 rule 2)."""
