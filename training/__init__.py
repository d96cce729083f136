"""Training the project's own models (the reader). Kept apart from assistant/, which only loads them."""
