"""Training the project's own models (the reader and the verifier). Kept apart from assistant/, which only loads them."""
