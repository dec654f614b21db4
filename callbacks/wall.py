"""Wall page callbacks (placeholder)."""
