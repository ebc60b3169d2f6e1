"""The SMS channel: gateway backends, the outbox, signed webhooks and reply handling."""
