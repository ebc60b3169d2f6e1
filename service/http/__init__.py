"""Litestar glue: middleware, guards, dependencies and problem responses. Domain code lives elsewhere."""
