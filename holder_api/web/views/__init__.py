"""The web wallet's page handlers, one module per area."""
