"""Who is calling: password hashing, access tokens, and the caller behind a token."""
