"""The email channel: IMAP in, SMTP out, mail <-> Inquiry/Reply in between."""
