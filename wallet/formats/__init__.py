"""Credential formats: parse and verify everything a learner is likely to hold."""
