"""HTML views: thin callers of the services."""
