"""Overview page callbacks (placeholder)."""
