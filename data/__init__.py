"""Domain data layer: universe, sources, store, cache, collector. Never imports dash."""
