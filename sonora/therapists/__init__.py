"""Find a credentialed music therapist and book a free 15-minute consult.

* :mod:`~sonora.therapists.credentials` — credentials by country (data file).
* :mod:`~sonora.therapists.places` — offline gazetteer and distances.
* :mod:`~sonora.therapists.availability` — weekly hours, exceptions, slots across DST.
* :mod:`~sonora.therapists.mail` — emails with .ics invites, senders, the outbox loop.
* :mod:`~sonora.therapists.service` — :class:`Therapists`, shared by the web app and CLI:
  booking and availability, joined with :mod:`~sonora.therapists.profiles`,
  :mod:`~sonora.therapists.directory` (search), :mod:`~sonora.therapists.verification`
  and :mod:`~sonora.therapists.notifications` (emails from templates in
  ``templates/mail``, invites from :mod:`~sonora.therapists.invites`).
* :mod:`~sonora.therapists.models`, :mod:`~sonora.therapists.repo` — tables and repository.
* :mod:`~sonora.therapists.demo` — clearly labelled demo profiles for a fresh install.

Sonora itself is a wellness tool, not music therapy; this package is its side door to
the professionals who provide it.
"""

from sonora.therapists.service import SearchQuery, SlotUnavailable, Therapists

__all__ = ["SearchQuery", "SlotUnavailable", "Therapists"]
