"""Plans: what the resolution files would change in the store, with guards."""
