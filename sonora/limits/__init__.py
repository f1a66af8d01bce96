"""Rate limits' storage: the ``rate_counters`` table and the counters over it.

The limiter itself (settings, actions, middleware, log-in backoff) is the web app's
(:mod:`sonora.web.limits`); this package is what it keeps in the database.
"""
