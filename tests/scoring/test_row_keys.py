"""``compose_key`` gives equal keys exactly to equal rows, 1-D at any width (issue 19).

Property test against brute force (Python tuples), with columns wide enough that the mixed
radix must re-code the partial key by hashing.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apcfair.scoring.binning import compose_key, unique_rows


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.sampled_from([2, 7, 10**6, 2**40, 2**62]), min_size=1, max_size=6),
       st.integers(0, 2**32 - 1))
def test_key_equal_exactly_for_equal_rows(n, spans, seed):
    rng = np.random.default_rng(seed)
    # few distinct values per column so that equal rows occur, spread over a wide range
    cols = [rng.choice(rng.integers(-span // 2, span // 2 + 1, size=3), size=n) for span in spans]
    key = compose_key(cols)
    assert key.ndim == 1 and len(key) == n
    rows = list(zip(*[c.tolist() for c in cols], strict=True))
    first, inverse = unique_rows(key)
    assert len(first) == len(set(rows))
    for i in range(n):                                  # same unit <=> same row
        assert rows[first[inverse[i]]] == rows[i]
    assert len({rows[i] for i in first}) == len(first)
