"""Server-rendered pages for ward staff and agency workers (the ward board).

Controllers here are thin: every read and change goes through the domain services, which
decide who may see what and write the audit trail. Pages sit outside the JSON API and its
OpenAPI document; they authenticate from an HttpOnly session cookie instead of a bearer token.
"""
