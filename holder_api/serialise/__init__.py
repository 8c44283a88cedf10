"""Typed service results as the HTTP API shows them: one module per resource.

Services (``wallet``, ``sharing``, ``consent``) return typed results and never shape wire JSON;
these functions do, so every field name, key order and time format on the wire is decided here.
"""
