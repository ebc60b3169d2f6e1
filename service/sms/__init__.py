"""SMS plumbing: gateway backends, the outbox, signatures. Imports no domain module; what a
message's fate means is reported through service.sms.hooks and decided elsewhere."""
