"""A claimer process for the killed-worker test: claim, maybe reply, close or release, forever.

Usage: python claim_worker.py DB_URL OFFICER_ID LEASE_SECONDS SEED
"""

from __future__ import annotations

import random
import sys
import time


def main() -> int:
    url, officer_id, lease, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    from bot.handoff import service
    from bot.store.db import get_engine

    engine = get_engine(url)
    rng = random.Random(seed)
    idle_since = None
    while True:
        claim = service.claim_next(officer_id, lease_seconds=lease, engine=engine)
        if claim is None:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 5:
                return 0
            time.sleep(0.01)
            continue
        idle_since = None
        try:
            if rng.random() < 0.15:
                service.release(claim.handoff_id, officer_id, claim.version, engine=engine)
                continue
            if rng.random() < 0.3:
                service.reply(claim.handoff_id, officer_id, claim.version, "reply", lease_seconds=lease, engine=engine)
            service.close(claim.handoff_id, officer_id, claim.version, "referred", engine=engine)
        except service.StaleClaim:
            continue


if __name__ == "__main__":
    sys.exit(main())
