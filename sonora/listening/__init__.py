"""Listening: check-ins, plans, check-outs, streams and a listener's history."""
