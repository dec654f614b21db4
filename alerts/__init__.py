"""Alert engine: rules (alerts.toml) → pure evaluator → store → notifiers.

Import the submodules you need (`alerts.store` for the web layer's /api/alerts body,
`alerts.service` for the collector); this package imports nothing heavy itself.
"""
__all__: list[str] = []
