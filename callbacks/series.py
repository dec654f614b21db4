"""Series page callbacks (placeholder)."""
