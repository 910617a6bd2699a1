"""Finding the passages an answer is built from."""
