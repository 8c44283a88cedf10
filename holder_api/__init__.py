"""Satchel holder API: HTTP only (aiohttp app factory, routes, middleware, CLI)."""
