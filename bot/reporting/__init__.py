"""Safe reports: consented intake, cases (one writer), referrals, statistics."""
