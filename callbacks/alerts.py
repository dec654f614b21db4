"""Alerts page callbacks (placeholder)."""
