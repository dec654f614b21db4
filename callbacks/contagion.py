"""Contagion page callbacks (placeholder)."""
