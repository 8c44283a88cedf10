"""Satchel sharing: everything that goes out (DCQL, presentations, OpenID4VP, share links)."""
