"""Real servers started by the tests on 127.0.0.1: PostgreSQL, Dovecot IMAP,
an aiosmtpd SMTP server and Debian's Chromium (through Playwright).

Each helper starts in well under a second and cleans up after itself; see the
module docstrings for the API.
"""
