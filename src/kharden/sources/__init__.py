"""Sources: everything that yields Kubernetes objects with their provenance."""
