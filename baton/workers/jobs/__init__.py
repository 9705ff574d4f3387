"""Jobs, one module per topic. Jobs decide nothing: they call the services."""
