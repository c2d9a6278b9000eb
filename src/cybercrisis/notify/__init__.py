"""Notifications: a transactional outbox delivered by the job runner, by e-mail (SMTP) and signed webhooks."""
