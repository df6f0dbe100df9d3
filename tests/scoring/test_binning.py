"""AttributeBinner: quantile bins with an NA bin, levels, references, unseen values."""

import numpy as np
import pandas as pd
import pytest

from apcfair.errors import DataValidationError, NotFittedError
from apcfair.scoring import AttributeBinner


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    x[rng.random(1000) < 0.1] = np.nan
    return pd.DataFrame({"x": x, "grade": rng.choice(["B", "A", "C"], 1000),
                         "flag": rng.integers(0, 2, 1000)})


def test_quantile_bins_with_na_bin(frame):
    b = AttributeBinner(bins=10).fit(frame, ["x"])
    spec = b.specs_["x"]
    assert spec.kind == "binned" and spec.has_na
    assert len(spec.labels) == 11 and spec.labels[-1] == "NA"
    assert spec.labels[0].startswith("(-Inf, ") and spec.labels[-2].endswith(", Inf]")
    counts = np.array(spec.counts[:-1])
    assert counts.min() >= 80 and counts.max() <= 100          # deciles of 900 values
    assert spec.counts[-1] == int(frame["x"].isna().sum())
    # reference (lowest bin) dropped; NA kept as a term
    assert b.term_names_[0] == f"x {spec.labels[1]}"
    assert b.term_names_[-1] == "x NA"
    lab = b.transform(frame)["x"]
    assert lab.isna().sum() == 0 and (lab == "NA").sum() == spec.counts[-1]


def test_labels_look_like_the_paper(frame):
    b = AttributeBinner(bins=4).fit(frame, ["x"])
    mid = b.specs_["x"].labels[1]
    lo, hi = mid.strip("(]").split(", ")
    assert float(lo) < float(hi)
    assert len(lo.replace("-", "").replace(".", "").lstrip("0")) <= 3   # 3 significant digits


def test_categorical_levels_reference_and_explicit_reference(frame):
    b = AttributeBinner().fit(frame, ["grade"])
    assert b.specs_["grade"].labels == ["A", "B", "C"]
    assert b.term_names_ == ["grade B", "grade C"]
    b2 = AttributeBinner(reference={"grade": "C"}).fit(frame, ["grade"])
    assert b2.term_names_ == ["grade A", "grade B"]
    D = b2.design(frame).toarray()
    np.testing.assert_array_equal(D[:, 0], (frame["grade"] == "A").to_numpy())


def test_binary_numeric_column_gets_two_bins(frame):
    b = AttributeBinner().fit(frame, ["flag"])
    assert b.specs_["flag"].labels == ["(-Inf, 0]", "(0, Inf]"]
    b = AttributeBinner(categorical=["flag"]).fit(frame, ["flag"])
    assert b.specs_["flag"].labels == ["0", "1"]


def test_explicit_cuts_merge_empty_bins():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0]})
    b = AttributeBinner(cuts={"x": [2.5, 5, 7, 20]}).fit(df, ["x"])
    # (5, 7] and (20, Inf] hold no training value -> merged with a neighbour
    assert b.specs_["x"].labels == ["(-Inf, 2.5]", "(2.5, 5]", "(5, Inf]"]
    assert b.specs_["x"].counts == [2, 1, 1]


def test_numeric_passthrough(frame):
    df = frame.assign(z=np.arange(1000.0))
    b = AttributeBinner(numeric=["z"]).fit(df, ["z", "grade"])
    assert b.term_names_ == ["z", "grade B", "grade C"]
    np.testing.assert_array_equal(b.design(df).toarray()[:, 0], df["z"])
    with pytest.raises(DataValidationError, match="column 'x'.*enters linearly"):
        AttributeBinner(numeric=["x"]).fit(frame, ["x"])
    b = AttributeBinner(bins=None).fit(df, ["z"])
    assert b.specs_["z"].kind == "numeric"


def test_unseen_levels_error_or_reference(frame):
    b = AttributeBinner().fit(frame, ["grade", "x"])
    new = pd.DataFrame({"grade": ["A", "Z", None], "x": [0.0, 5.0, np.nan]})
    with pytest.raises(DataValidationError, match="column 'grade': 2 rows .* not seen"):
        b.encode(new)
    b = AttributeBinner(handle_unknown="reference").fit(frame, ["grade", "x"])
    enc = b.encode(new)
    assert enc.codes[:, 0].tolist() == [0, 0, 0]
    # NA in x is a training level
    assert enc.codes[2, 1] == b.specs_["x"].na_code
    # values beyond the training range fall in the outer bins
    assert enc.codes[1, 1] == b.specs_["x"].n_levels - 2


def test_unseen_missing_value_without_na_level(frame):
    b = AttributeBinner().fit(frame.dropna(), ["x"])
    with pytest.raises(DataValidationError, match="1 of them missing"):
        b.encode(pd.DataFrame({"x": [np.nan]}))


def test_bad_columns(frame):
    with pytest.raises(DataValidationError, match=r"\['nope'\] not found"):
        AttributeBinner().fit(frame, ["x", "nope"])
    df = frame.assign(empty=np.nan, const="k")
    with pytest.raises(DataValidationError, match="all 1,000 training rows are missing") as err:
        AttributeBinner().fit(df, ["empty", "const"])
    assert len(err.value.problems) == 2
    assert "single value" in err.value.problems[1]
    with pytest.raises(ValueError, match="reference"):
        AttributeBinner(reference={"grade": "Q"}).fit(frame, ["grade"])
    with pytest.raises(NotFittedError):
        AttributeBinner().transform(frame)


def test_dict_roundtrip(frame):
    b = AttributeBinner(bins=5, reference={"grade": "B"}).fit(frame, ["x", "grade", "flag"])
    back = AttributeBinner.from_dict(b.to_dict())
    assert back.term_names_ == b.term_names_
    assert (back.design(frame) != b.design(frame)).nnz == 0
    assert b.levels_table()["reference"].sum() == 3
