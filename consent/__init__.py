"""Satchel consent: the GDPR consent ledger and the learner's rights."""
