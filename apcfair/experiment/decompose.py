"""Decomposing a score's dependence on a protected attribute into legitimate and proxy parts.

For a score ``S`` (logit) and a protected attribute ``d`` (0/1 or numeric),

``corr(S, d) = [cov(L, d) + cov(P, d) + cov(O, d)] / (sd(S) sd(d))``

where ``S = L + P + O``: ``L`` is the part carried by the credit attributes' *true* effects
(legitimate: the attributes differ across groups and truly predict default), ``P`` the part
carried by coefficient bias (``(estimated − true) · x``: proxy discrimination) and ``O`` the
rest (restricted term, vintage effects, intercept). The three shares add up to the total.

On synthetic data ``L = b·x`` with the generator's true coefficients ``b``. On real data
there is no truth; :func:`real_data_parts` takes the restricted-offset model's credit
score as the legitimate part and the traditional minus restricted-offset credit score
(the same accounts) as the proxy part.
"""

from __future__ import annotations

import numpy as np


def decompose_dependence(score, attribute, *, legit, proxy) -> dict[str, float]:
    """Shares of ``corr(score, attribute)`` carried by ``legit``, ``proxy`` and the rest.

    Parameters
    ----------
    score : array-like
        The model's account score (logit scale).
    attribute : array-like
        Protected attribute (0/1 or numeric).
    legit, proxy : array-like
        The legitimate and proxy parts of ``score`` (the rest is ``score - legit - proxy``).

    Returns
    -------
    dict
        ``total`` (= corr(score, attribute)), ``legit``, ``proxy``, ``other``; the last three
        add up to ``total``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> d = rng.binomial(1, 0.3, 5000).astype(float)
    >>> x = rng.normal(size=5000) - 0.5 * d          # a credit attribute, worse for d = 1
    >>> legit, proxy = -0.5 * x, -0.2 * x             # true effect, and an estimated bias
    >>> parts = decompose_dependence(legit + proxy + rng.normal(0, 0.1, 5000), d, legit=legit, proxy=proxy)
    >>> round(parts["legit"] + parts["proxy"] + parts["other"] - parts["total"], 12)
    0.0
    >>> round(parts["proxy"] / (parts["legit"] + parts["proxy"]), 2)  # 0.2 / 0.7 of the credit part
    0.29
    """
    s, d = np.asarray(score, float), np.asarray(attribute, float)
    legit, proxy = np.asarray(legit, float), np.asarray(proxy, float)
    ok = np.isfinite(s) & np.isfinite(d)
    s, d, legit, proxy = s[ok], d[ok], legit[ok], proxy[ok]
    denom = s.std() * d.std()
    if denom == 0:
        return {"total": 0.0, "legit": 0.0, "proxy": 0.0, "other": 0.0}
    dc = d - d.mean()

    def share(part):
        return float(np.mean((part - part.mean()) * dc) / denom)

    total = share(s)
    legit_share, proxy_share = share(legit), share(proxy)
    return {"total": total, "legit": legit_share, "proxy": proxy_share, "other": total - legit_share - proxy_share}


def real_data_parts(account_scores, *, model: str = "credit", reference: str = "credit_restricted_zero") -> tuple:
    """Legitimate and proxy parts of ``model``'s score on real data (no truth).

    The legitimate part is ``reference``'s score (the credit model fitted with the
    restricted offset, restricted term zeroed); the proxy part is ``model − reference``:
    what the traditional credit coefficients add beyond those estimated with the
    restricted offset, applied to the same accounts.

    Parameters
    ----------
    account_scores : pandas.DataFrame
        :attr:`UnbiasedResult.account_scores`.
    model, reference : str

    Returns
    -------
    tuple of numpy.ndarray
        ``(score, legit, proxy)``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"credit": [1.0, 2.0], "credit_restricted_zero": [0.5, 1.5]})
    >>> [a.tolist() for a in real_data_parts(s)]
    [[1.0, 2.0], [0.5, 1.5], [0.5, 0.5]]
    """
    score = account_scores[model].to_numpy(float)
    legit = account_scores[reference].to_numpy(float)
    return score, legit, score - legit
