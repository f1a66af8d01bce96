"""Quick starts: favourites, named mixes, share links and offline check-in keys.

A *mix* is a plan a listener keeps (its layers, trajectory and mixer gains), under a
name and optionally marked a favourite.  A mix may be shared: a random token makes
``/m/<token>`` play it for anyone, with their own check-in optional.  Starting a mix
makes a new plan row (so history, check-out and the safe-listening dose work as for
any session) without running the matcher again.

``client_requests`` remembers the ``Idempotency-Key`` of check-ins sent by the
offline queue so a check-in queued on a phone is stored once however often the
browser retries.
"""

from sonora.mixes.models import ClientRequest, MixRow
from sonora.mixes.repo import MixRecord, MixRepo
from sonora.mixes.service import Mixes

__all__ = ["ClientRequest", "MixRecord", "MixRepo", "MixRow", "Mixes"]
