"""Pure, vectorised analytics: moves, volatility, z, rarity, correlation, spillover. No dash."""
