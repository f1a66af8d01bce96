"""A hierarchical Bayesian linear model of session outcomes.

For listener ``i`` the outcome score of a session with features ``x = (x_P, x_S)``
(personal and shared, see :mod:`sonora.match.features`) is

    y = x_P · θ_i + x_S · β + ε,   ε ~ N(0, σ²)
    θ_i ~ N(μ_P, Σ)                (the population prior over personal coefficients)
    (μ_P, β) ~ N(μ0, diag(s0²))    (a weak hyperprior: Sonora's starting assumptions)

``μ = (μ_P, β)``, ``Σ`` (a full covariance: how people differ, and how their
differences go together) and ``σ²`` are learnt from every listener's outcomes by
empirical Bayes, so what works across listeners becomes the prior each new listener
starts from.  Each listener's posterior over ``θ_i`` then follows from their own
outcomes in closed form; the shared coefficients ``β`` are population-level facts
(context effects, what onboarding answers predict) and are used at their estimate.

Only sufficient statistics are kept per listener (``XᵀX``, ``Xᵀy``, ``yᵀy``, ``n``),
so memory does not grow with the number of sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_triangular
from scipy.linalg.lapack import dpotrf, dpotrs, dtrtrs

from sonora.match import features as F

P = F.N_PERSONAL
#: Prior variance of a listener's personal intercept, fixed (not learnt).  Source
#: shares sum to one, so the intercept and the sources are collinear: a learnt,
#: generous intercept would soak up "this sound does not suit me" as "sessions do
#: not suit me", and the matcher would keep offering the same poor sound.  0.4² is
#: about how much people's general response to a quiet session differs.
INTERCEPT_TAU2 = 0.16
#: Starting (and smallest) prior variance of a listener's deviation of one source's
#: effect in one context (a goal, or the evening) from their general taste: 0.25².
#: Small next to the sources' own 0.8², so a few sessions in one context move that
#: context without deciding it, and what is learnt elsewhere still counts.
CONTEXT_TAU2 = 0.0625


def default_hyperprior() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sonora's starting assumptions ``(μ0, s0², τ0²)`` before any outcome is seen.

    * intercept 1.0 (±2): a session usually helps a little (quiet rest does too);
    * loved families +0.8 (±0.5) per unit share: what people say they love tends to
      help them;
    * brightness × high-pitch sensitivity −0.5 (±0.5), measured brightness ×
      high-pitch sensitivity −0.3 (±0.5), brightness × bedtime −0.3 (±0.5): dark
      sound suits those moments;
    * check-in covariates 0 (±5); everything else 0 (±1).

    Personal deviations (``τ0``, standard deviations in points per unit of the
    feature) start at 0.4 (intercept, fixed), 0.8 (sources), 0.5 (brightness level),
    0.3 (brightness level², measured brightness in octaves, pacer), 0.25 (each
    source's shift in each context); learning never takes them below these values.
    """
    mu0 = np.zeros(F.DIM)
    s02 = np.ones(F.DIM)
    mu0[F.INDEX["intercept"]] = 1.0
    s02[F.INDEX["intercept"]] = 4.0
    mu0[F.INDEX["loved"]] = 0.8
    s02[F.INDEX["loved"]] = 0.25
    mu0[F.INDEX["bright_x_high_pitch"]] = -0.5
    s02[F.INDEX["bright_x_high_pitch"]] = 0.25
    mu0[F.INDEX["centroid_x_high_pitch"]] = -0.3
    s02[F.INDEX["centroid_x_high_pitch"]] = 0.25
    mu0[F.INDEX["bright_x_bedtime"]] = -0.3
    s02[F.INDEX["bright_x_bedtime"]] = 0.25
    for name in ("tension_before", "mood_before", "arousal"):
        s02[F.INDEX[name]] = 25.0
    tau0 = np.zeros(P)
    tau0[F.INDEX["intercept"]] = INTERCEPT_TAU2
    for src in F.SOURCES:
        tau0[F.INDEX[src]] = 0.64
    tau0[F.INDEX["bright"]] = 0.25
    tau0[F.INDEX["bright2"]] = 0.09
    tau0[F.INDEX["log_centroid"]] = 0.09
    tau0[F.INDEX["pacer"]] = 0.09
    for ctx in F.CONTEXTS:
        for src in F.SOURCES:
            tau0[F.INDEX[f"{src}_at_{ctx}"]] = CONTEXT_TAU2
    return mu0, s02, tau0


# -- small-matrix algebra on every check-in ---------------------------------------------
# scipy.linalg's cho_factor / cho_solve / solve_triangular validate and dispatch in
# Python (~40 us a call) around LAPACK calls that take a few microseconds at this size;
# the check-in makes four of them (issue #15).  These call the same LAPACK routines
# with the same arguments as scipy 1.11-1.17 does for float64, so the results are
# bit-for-bit those of scipy (tests/match/test_match.py compares them).
def _finite(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if not np.isfinite(a).all():
        raise ValueError("array must not contain infs or NaNs")
    return a


def chol_lower(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cho_factor(a, lower=True)[0]``: lower factor, upper part untouched.

    Parameters
    ----------
    a : numpy.ndarray
        ``(n, n)`` float64, symmetric positive definite.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``; its lower triangle holds the Cholesky factor.
    """
    c, info = dpotrf(_finite(a), lower=1, overwrite_a=0, clean=0)
    if info > 0:
        raise LinAlgError(f"{info}-th leading minor of the array is not positive definite")
    if info < 0:  # pragma: no cover - a programming error
        raise ValueError(f"illegal value in argument {-info} of potrf")
    return c


def chol_solve_lower(c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cho_solve((c, True), b)``: solve ``A x = b`` from :func:`chol_lower`."""
    x, info = dpotrs(c, _finite(b), lower=1, overwrite_b=0)
    if info != 0:  # pragma: no cover - a programming error
        raise ValueError(f"illegal value in argument {-info} of potrs")
    return x


def tri_solve(a: np.ndarray, b: np.ndarray, *, lower: bool) -> np.ndarray:
    """``scipy.linalg.solve_triangular(a, b, lower=lower)`` for float64 ``(n, n)`` ``a``.

    Parameters
    ----------
    a : numpy.ndarray
        ``(n, n)`` triangular matrix.
    b : numpy.ndarray
        ``(n,)`` or ``(n, k)`` right-hand side.
    lower : bool
        Use the lower triangle of ``a`` (else the upper).

    Returns
    -------
    numpy.ndarray
        Same shape as ``b``.
    """
    a, b = _finite(a), _finite(b)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] != b.shape[0] or b.size == 0:
        return solve_triangular(a, b, lower=lower)  # scipy's checks and messages
    if a.flags.f_contiguous:
        x, info = dtrtrs(a, b, overwrite_b=0, lower=int(lower), trans=0, unitdiag=0)
    else:  # LAPACK wants Fortran order: solve the transposed system, as scipy does
        x, info = dtrtrs(a.T, b, overwrite_b=0, lower=int(not lower), trans=1, unitdiag=0)
    if info > 0:
        raise LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    if info < 0:  # pragma: no cover - a programming error
        raise ValueError(f"illegal value in argument {-info} of trtrs")
    return x


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run small-matrix algebra on one BLAS thread (threads only contend here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional: then BLAS decides
        yield
        return
    with threadpool_limits(limits=1):
        yield


@dataclass
class Stats:
    """Sufficient statistics of one listener's outcomes."""

    xtx: np.ndarray = field(default_factory=lambda: np.zeros((F.DIM, F.DIM)))
    xty: np.ndarray = field(default_factory=lambda: np.zeros(F.DIM))
    yty: float = 0.0
    n: int = 0

    def add(self, x: np.ndarray, y: float) -> None:
        """Add one session with features ``x`` and score ``y``."""
        self.xtx += np.outer(x, x)
        self.xty += x * y
        self.yty += y * y
        self.n += 1


@dataclass
class Posterior:
    """A listener's posterior: ``θ ~ N(mean, precision⁻¹)``, shared coefficients fixed.

    Attributes
    ----------
    mean : numpy.ndarray
        Posterior mean of the personal coefficients, ``(P,)``.
    chol : numpy.ndarray
        Lower Cholesky factor of their posterior precision.
    shared : numpy.ndarray
        The shared coefficients ``β`` used with it.
    """

    mean: np.ndarray
    chol: np.ndarray
    shared: np.ndarray

    def cov(self) -> np.ndarray:
        """Posterior covariance of the personal coefficients."""
        inv_l = solve_triangular(self.chol, np.eye(len(self.mean)), lower=True)
        return inv_l.T @ inv_l

    def full_mean(self) -> np.ndarray:
        """``(θ mean, β)`` — a coefficient for every feature."""
        return np.concatenate([self.mean, self.shared])

    def sample(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One draw of every coefficient, the personal spread multiplied by ``scale``."""
        z = rng.standard_normal(len(self.mean))
        theta = self.mean + scale * tri_solve(self.chol.T, z, lower=False)
        return np.concatenate([theta, self.shared])

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the score for rows of ``x``."""
        mean = x @ self.full_mean()
        v = tri_solve(self.chol, x[:, :P].T, lower=True)
        return mean, np.sqrt(np.sum(v * v, axis=0))


@dataclass
class PopulationModel:
    """The population prior and noise, with the hyperprior they are learnt under.

    Parameters
    ----------
    mu : numpy.ndarray
        ``(DIM,)``: prior mean of the personal coefficients, then the shared ones.
    cov : numpy.ndarray
        ``(P, P)``: prior covariance ``Σ`` of the personal coefficients.
    sigma2 : float
        Outcome noise variance (score points²).
    mu0, s02 : numpy.ndarray
        Hyperprior mean and variance of ``mu``.
    tau0 : numpy.ndarray
        Starting (and smallest) personal variances, ``(P,)``.
    """

    mu: np.ndarray
    cov: np.ndarray
    sigma2: float
    mu0: np.ndarray
    s02: np.ndarray
    tau0: np.ndarray
    n_listeners: int = 0
    n_sessions: int = 0

    @classmethod
    def default(cls) -> PopulationModel:
        """The prior before any outcome is seen (see :func:`default_hyperprior`)."""
        mu0, s02, tau0 = default_hyperprior()
        return cls(mu0.copy(), np.diag(tau0), 1.5**2, mu0, s02, tau0)

    # -- posterior of one listener ------------------------------------------------------
    def _prior_precision(self) -> np.ndarray:
        """``Σ⁻¹``, computed once per ``Σ`` (every check-in needs it)."""
        cached = self.__dict__.get("_prec_cache")
        if cached is not None and cached[0] is self.cov:
            return cached[1]
        prec = np.linalg.inv(self.cov)
        self.__dict__["_prec_cache"] = (self.cov, prec)
        return prec

    def posterior(self, stats: Stats | None, *, _prec0: np.ndarray | None = None) -> Posterior:
        """The listener's posterior given their statistics (the prior if none)."""
        prec0 = self._prior_precision() if _prec0 is None else _prec0
        mu_p, beta = self.mu[:P], self.mu[P:]
        prec = prec0.copy()
        rhs = prec0 @ mu_p
        if stats is not None and stats.n:
            a = stats.xtx
            prec += a[:P, :P] / self.sigma2
            rhs += (stats.xty[:P] - a[:P, P:] @ beta) / self.sigma2
        c = chol_lower(prec)
        mean = chol_solve_lower(c, rhs)
        return Posterior(mean=mean, chol=np.tril(c), shared=beta.copy())

    # -- learning the population ---------------------------------------------------------
    def _gls_mean(self, data: list[Stats]) -> np.ndarray:
        """MAP estimate of ``μ`` with the personal deviations integrated out.

        For each listener ``y ~ N(X μ, X_P Σ X_Pᵀ + σ² I)``; by the Woodbury identity
        ``Xᵀ V⁻¹ X = (A − A_{·P} (σ² Σ⁻¹ + A_PP)⁻¹ A_{P·}) / σ²`` with ``A = XᵀX``
        (likewise for ``Xᵀ V⁻¹ y``), so sufficient statistics are enough.  Unlike an
        EM step this moves every coefficient at once.
        """
        prec = np.diag(1.0 / self.s02)
        rhs = self.mu0 / self.s02
        tinv = self.sigma2 * np.linalg.inv(self.cov)
        for s in data:
            a = s.xtx
            k = cho_factor(tinv + a[:P, :P], lower=True)
            ma = cho_solve(k, a[:P, :])
            mc = cho_solve(k, s.xty[:P])
            prec = prec + (a - a[:, :P] @ ma) / self.sigma2
            rhs = rhs + (s.xty - a[:, :P] @ mc) / self.sigma2
        return cho_solve(cho_factor(prec, lower=True), rhs)

    def fit(self, all_stats: list[Stats], *, iterations: int = 4) -> PopulationModel:
        """Empirical-Bayes update of ``μ``, ``Σ`` and ``σ²``.

        Each iteration: ``μ`` by generalised least squares (:meth:`_gls_mean`), then
        an EM step for ``Σ`` and ``σ²`` from every listener's posterior.  ``Σ`` is
        shrunk toward its starting diagonal (5 pseudo-listeners), its diagonal never
        falls below the starting variances, and the intercept's variance is fixed
        (see :data:`INTERCEPT_TAU2`).

        Parameters
        ----------
        all_stats : list of Stats
            One entry per listener.
        iterations : int
            Iterations (each costs a few ``P × P`` solves per listener).

        Returns
        -------
        PopulationModel
            ``self``, updated in place.
        """
        data = [s for s in all_stats if s.n]
        if not data:
            return self
        with _one_blas_thread():
            return self._fit(data, iterations)

    def _fit(self, data: list[Stats], iterations: int) -> PopulationModel:
        n_total = sum(s.n for s in data)
        i0 = F.INDEX["intercept"]
        nu_cov, nu_sigma, sigma0 = 5.0, 20.0, 1.5**2
        for _ in range(iterations):
            self.mu = self._gls_mean(data)
            prec0 = np.linalg.inv(self.cov)
            scatter = np.zeros((P, P))
            resid = 0.0
            for s in data:
                post = self.posterior(s, _prec0=prec0)
                cov = post.cov()
                m = post.full_mean()
                d = post.mean - self.mu[:P]
                scatter += np.outer(d, d) + cov
                # E||y - Xθ||² = yᵀy - 2 mᵀXᵀy + mᵀAm + tr(A_PP V)
                resid += s.yty - 2 * m @ s.xty + m @ s.xtx @ m + float(np.sum(s.xtx[:P, :P] * cov))
            n = len(data)
            block = (scatter + nu_cov * np.diag(self.tau0)) / (n + nu_cov)
            block[i0, :] = 0.0
            block[:, i0] = 0.0
            block[i0, i0] = INTERCEPT_TAU2
            block += np.diag(np.maximum(self.tau0 - np.diag(block), 0.0))
            self.cov = block
            self.sigma2 = float(
                np.clip((max(resid, 0.0) + nu_sigma * sigma0) / (n_total + nu_sigma), 0.05, 25.0)
            )
        self.n_listeners = len(data)
        self.n_sessions = n_total
        return self

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (feature names included, so layouts can be checked)."""
        return {
            "feature_version": F.FEATURE_VERSION,
            "features": list(F.NAMES),
            "mu": self.mu.tolist(),
            "cov": self.cov.tolist(),
            "sigma2": self.sigma2,
            "mu0": self.mu0.tolist(),
            "s02": self.s02.tolist(),
            "tau0": self.tau0.tolist(),
            "n_listeners": self.n_listeners,
            "n_sessions": self.n_sessions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PopulationModel:
        """Inverse of :meth:`to_dict` (falls back to the default for another layout)."""
        if data.get("features") != list(F.NAMES):
            return cls.default()
        arr = {k: np.asarray(data[k], dtype=float) for k in ("mu", "cov", "mu0", "s02", "tau0")}
        return cls(
            arr["mu"],
            arr["cov"],
            float(data["sigma2"]),
            arr["mu0"],
            arr["s02"],
            arr["tau0"],
            int(data.get("n_listeners", 0)),
            int(data.get("n_sessions", 0)),
        )

    def coefficient(self, name: str) -> float:
        """Population mean coefficient of feature ``name``."""
        return float(self.mu[F.INDEX[name]])
