"""The web process: JSON endpoints, auth, and the per-process snapshot service."""
