"""The bottom layer: settings, errors, the database, the clock, metrics and shared types."""
