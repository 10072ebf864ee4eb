"""Staff: officers and their credentials (Argon2id + TOTP), console sessions, teams and roster.

models (officers, sessions, login throttling, audit rows), credentials (create, verify, reset,
disable), sessions (server-side login sessions), keys (sealing TOTP secrets, audit chain keys),
roster (teams and shifts; who is on duty). The audit log itself is bot.audit.
"""
