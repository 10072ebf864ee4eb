"""The duty-officer console: officers, login (Argon2id + TOTP), sessions, audit log, web app."""
