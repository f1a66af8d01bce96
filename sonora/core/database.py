"""The listener's database: every feature repository of a person, joined.

:class:`Database` is what the application keeps: the accounts repository (users,
sign-ins, profiles, export and deletion; :class:`sonora.accounts.store.AccountStore`)
and the listening repository (check-ins, plans, check-outs, streams, history;
:class:`sonora.listening.store.ListeningStore`) over one engine.  Export and deletion ask the listening
and matcher parts of an account (children first, the account's own rows last); the
therapist directory adds its part when it deletes an account
(:meth:`sonora.therapists.service.Therapists.delete_account`).
"""

from __future__ import annotations

from sonora.accounts.privacy import AccountPart
from sonora.accounts.repo import AccountRepo
from sonora.core.download_models import DOWNLOAD_ROWS
from sonora.library.repo import LIBRARY_ROWS
from sonora.listening.repo import LISTENING_ROWS, ListeningRepo
from sonora.match.tables import MATCH_ROWS

__all__ = ["Database"]


class Database(AccountRepo, ListeningRepo):
    """Transactional access to everything Sonora keeps about listeners.

    Examples
    --------
    >>> db = Database.open("sqlite://")          # in memory, migrated
    >>> user = db.create_user()
    >>> db.get_profile(user.id).onboarded
    False
    """

    account_parts: tuple[AccountPart, ...] = (
        LIBRARY_ROWS,
        MATCH_ROWS,
        DOWNLOAD_ROWS,  # before the plans they render
        LISTENING_ROWS,
    )


# Every feature's tables on the one metadata (Alembic's target, schema checks): the
# therapist directory's, the mixes' and the rate limits' tables are not part of a
# listener's Database, so load them here.
from sonora.limits import models as _limit_tables  # noqa: E402, F401
from sonora.mixes import models as _mix_tables  # noqa: E402, F401
from sonora.programmes import models as _programme_tables  # noqa: E402, F401
from sonora.store.base import Base  # noqa: E402
from sonora.therapists import models as _therapist_tables  # noqa: E402, F401

#: The metadata holding every table of every feature.
metadata = Base.metadata
