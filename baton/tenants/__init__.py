"""Who the caller acts for, and the one place tenant criteria are added to queries."""
