"""Staff email plumbing: an outbox of emails sent once each over SMTP. Imports no domain:
it reports what happened through `service.email.hooks.EmailHooks`, like the SMS outbox."""
