"""Application services: the logic behind the API."""
