"""One module per page; thin: read the precomputed snapshot → call components."""
