"""Staff pages, one module per area. Views validate input and call services; they hold no rules."""
