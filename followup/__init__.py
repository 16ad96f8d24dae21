"""followup: post-visit care messages, self-care tips, reminders and rebooking nudges
for a massage clinic, sent by SMS (Twilio) and email (SMTP)."""

__version__ = "0.1.0"
