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
    b = AttributeBinner(bins=10, columns=["x"]).fit(frame)
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
    b = AttributeBinner(bins=4, columns=["x"]).fit(frame)
    mid = b.specs_["x"].labels[1]
    lo, hi = mid.strip("(]").split(", ")
    assert float(lo) < float(hi)
    assert len(lo.replace("-", "").replace(".", "").lstrip("0")) <= 3   # 3 significant digits


def test_categorical_levels_reference_and_explicit_reference(frame):
    b = AttributeBinner(columns=["grade"]).fit(frame)
    assert b.specs_["grade"].labels == ["A", "B", "C"]
    assert b.term_names_ == ["grade B", "grade C"]
    b2 = AttributeBinner(reference={"grade": "C"}, columns=["grade"]).fit(frame)
    assert b2.term_names_ == ["grade A", "grade B"]
    D = b2.design(frame).toarray()
    np.testing.assert_array_equal(D[:, 0], (frame["grade"] == "A").to_numpy())


def test_binary_numeric_column_gets_two_bins(frame):
    b = AttributeBinner(columns=["flag"]).fit(frame)
    assert b.specs_["flag"].labels == ["(-Inf, 0]", "(0, Inf]"]
    b = AttributeBinner(categorical=["flag"], columns=["flag"]).fit(frame)
    assert b.specs_["flag"].labels == ["0", "1"]


def test_explicit_cuts_merge_empty_bins():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0]})
    b = AttributeBinner(cuts={"x": [2.5, 5, 7, 20]}, columns=["x"]).fit(df)
    # (5, 7] and (20, Inf] hold no training value -> merged with a neighbour
    assert b.specs_["x"].labels == ["(-Inf, 2.5]", "(2.5, 5]", "(5, Inf]"]
    assert b.specs_["x"].counts == [2, 1, 1]


def test_numeric_passthrough(frame):
    df = frame.assign(z=np.arange(1000.0))
    b = AttributeBinner(numeric=["z"], columns=["z", "grade"]).fit(df)
    assert b.term_names_ == ["z", "grade B", "grade C"]
    np.testing.assert_array_equal(b.design(df).toarray()[:, 0], df["z"])
    with pytest.raises(DataValidationError, match="column 'x'.*enters linearly"):
        AttributeBinner(numeric=["x"], columns=["x"]).fit(frame)
    b = AttributeBinner(bins=None, columns=["z"]).fit(df)
    assert b.specs_["z"].kind == "numeric"


def test_unseen_levels_error_or_reference(frame):
    b = AttributeBinner(columns=["grade", "x"]).fit(frame)
    new = pd.DataFrame({"grade": ["A", "Z", None], "x": [0.0, 5.0, np.nan]})
    with pytest.raises(DataValidationError, match="column 'grade': 2 rows .* not seen"):
        b.encode(new)
    b = AttributeBinner(handle_unknown="reference", columns=["grade", "x"]).fit(frame)
    enc = b.encode(new)
    assert enc.codes[:, 0].tolist() == [0, 0, 0]
    # NA in x is a training level
    assert enc.codes[2, 1] == b.specs_["x"].na_code
    # values beyond the training range fall in the outer bins
    assert enc.codes[1, 1] == b.specs_["x"].n_levels - 2


def test_unseen_missing_value_without_na_level(frame):
    b = AttributeBinner(columns=["x"]).fit(frame.dropna())
    with pytest.raises(DataValidationError, match="1 of them missing"):
        b.encode(pd.DataFrame({"x": [np.nan]}))


def test_bad_columns(frame):
    with pytest.raises(DataValidationError, match=r"\['nope'\] not found"):
        AttributeBinner(columns=["x", "nope"]).fit(frame)
    df = frame.assign(empty=np.nan, const="k")
    with pytest.raises(DataValidationError, match="all 1,000 training rows are missing") as err:
        AttributeBinner(columns=["empty", "const"]).fit(df)
    assert len(err.value.problems) == 2
    assert "single value" in err.value.problems[1]
    with pytest.raises(ValueError, match="reference"):
        AttributeBinner(reference={"grade": "Q"}, columns=["grade"]).fit(frame)
    with pytest.raises(NotFittedError):
        AttributeBinner().transform(frame)


def test_dict_roundtrip(frame):
    b = AttributeBinner(bins=5, reference={"grade": "B"}, columns=["x", "grade", "flag"]).fit(frame)
    back = AttributeBinner.from_dict(b.to_dict())
    assert back.term_names_ == b.term_names_
    assert (back.design(frame) != b.design(frame)).nnz == 0
    assert b.levels_table()["reference"].sum() == 3


# ---------------------------------------------------------------------- sparse levels
@pytest.fixture
def sparse_frame():
    """x: deciles where the lowest bin has no defaults; grade: two rare grades; z with a
    rare NA holding no default."""
    rng = np.random.default_rng(8)
    n = 2000
    x = rng.uniform(0, 100, n)
    y = (rng.random(n) < 0.1).astype(int)
    y[x <= 10] = 0                                         # lowest decile: no defaults
    grade = rng.choice(["A", "B"], n)
    rare = rng.permutation(n)[:80]
    grade[rare[:40]] = "D"
    grade[rare[40:]] = "E"
    y[rare] = 0
    y[rare[:3]] = 1                                        # 3 + 3 defaults among D and E
    y[rare[40:43]] = 1
    z = rng.normal(size=n)
    z_na = rng.permutation(np.flatnonzero(y == 0))[:30]
    z[z_na] = np.nan
    return pd.DataFrame({"x": x, "grade": grade, "z": z}), y


def test_no_outcomes_or_zero_disables_merging(sparse_frame):
    df, y = sparse_frame
    plain = AttributeBinner(columns=["x", "grade", "z"]).fit(df)
    off = AttributeBinner(min_bin_defaults=0, columns=["x", "grade", "z"]).fit(df, y)
    assert plain.term_names_ == off.term_names_
    assert len(plain.merges_) == 0 and len(off.merges_) == 0
    assert (plain.design(df) != off.design(df)).nnz == 0
    assert plain.levels_table()["defaults"].isna().all()
    assert off.levels_table()["defaults"].sum() == 3 * y.sum()       # every level of x, grade, z


def test_nothing_merged_when_every_level_has_enough(frame):
    y = np.random.default_rng(1).random(len(frame)) < 0.3
    a = AttributeBinner(columns=["x", "grade", "flag"]).fit(frame)
    b = AttributeBinner(columns=["x", "grade", "flag"]).fit(frame, y)
    assert a.term_names_ == b.term_names_ and len(b.merges_) == 0
    for c in a.columns_:
        assert a.specs_[c].labels == b.specs_[c].labels and a.specs_[c].cuts == b.specs_[c].cuts
    assert (a.design(frame) != b.design(frame)).nnz == 0


def test_zero_default_bin_merged_with_its_neighbour(sparse_frame):
    df, y = sparse_frame
    plain = AttributeBinner(columns=["x"]).fit(df)
    b = AttributeBinner(columns=["x"]).fit(df, y)
    old, new = plain.specs_["x"], b.specs_["x"]
    assert len(new.labels) == len(old.labels) - 1
    # the lowest two deciles form one bin; the other cuts are kept
    assert new.cuts == old.cuts[1:]
    assert new.labels[0] == f"(-Inf, {old.labels[1].split(', ')[1]}"
    assert new.counts[0] == old.counts[0] + old.counts[1]
    t = b.levels_table()
    assert (t["defaults"] >= 5).all() and ((t["count"] - t["defaults"]) >= 5).all()
    m = b.merges_
    assert m.shape[0] == 1 and m.loc[0, "level"] == new.labels[0]
    assert m.loc[0, "merged_from"] == f"{old.labels[0]} + {old.labels[1]}"
    codes = b.encode(df).codes[:, 0]
    np.testing.assert_array_equal(codes, np.maximum(plain.encode(df).codes[:, 0] - 1, 0))


def test_sparse_categories_pooled_into_other(sparse_frame):
    df, y = sparse_frame
    b = AttributeBinner(handle_unknown="reference", columns=["grade"]).fit(df, y)
    spec = b.specs_["grade"]
    assert spec.labels == ["A", "B", "other"]
    assert b.term_names_ == ["grade B", "grade other"]
    assert spec.counts[2] == 80 and spec.defaults[2] == 6
    assert b.merges_["merged_from"].tolist() == ["D + E"]
    enc = b.encode(pd.DataFrame({"grade": ["D", "E", "A", "B", "Z"]}))
    assert enc.codes[:, 0].tolist() == [2, 2, 0, 1, 0]       # unseen -> reference
    assert b.transform(df.iloc[:0])["grade"].cat.categories.tolist() == ["A", "B", "other"]
    # a merged level is still found through one of its values (values[code] is a member)
    assert spec.values[2] in ("D", "E")


def test_sparse_other_goes_into_the_reference(sparse_frame):
    df, y = sparse_frame
    b = AttributeBinner(min_bin_defaults=7, columns=["grade"]).fit(df, y)  # other: 6 defaults
    spec = b.specs_["grade"]
    assert spec.labels == ["A", "B"] and b.term_names_ == ["grade B"]
    assert b.merges_["merged_from"].tolist() == ["A + D + E"]
    assert b.encode(pd.DataFrame({"grade": ["D", "E", "B"]})).codes[:, 0].tolist() == [0, 0, 1]
    # a sparse reference: everything sparse joins the largest remaining level
    b = AttributeBinner(min_bin_defaults=7, reference={"grade": "D"}, columns=["grade"]).fit(df, y)
    spec = b.specs_["grade"]
    big = "A" if (df["grade"] == "A").sum() >= (df["grade"] == "B").sum() else "B"
    assert spec.labels[spec.reference] == big and len(spec.labels) == 2
    assert spec.values[spec.reference] == big


def test_sparse_na_bin_merged_into_reference(sparse_frame):
    df, y = sparse_frame
    plain = AttributeBinner(bins=4, columns=["z"]).fit(df)
    b = AttributeBinner(bins=4, columns=["z"]).fit(df, y)
    assert plain.specs_["z"].has_na and "z NA" in plain.term_names_
    spec = b.specs_["z"]
    assert not spec.has_na and spec.na_into == spec.reference == 0
    assert "z NA" not in b.term_names_ and len(b.term_names_) == 3
    assert b.merges_["merged_from"].tolist() == [f"{spec.labels[0]} + NA"]
    assert b.encode(pd.DataFrame({"z": [np.nan, -5.0]})).codes[:, 0].tolist() == [0, 0]
    # an NA level chosen as the reference is kept
    b = AttributeBinner(bins=4, reference={"z": "NA"}, columns=["z"]).fit(df, y)
    assert b.specs_["z"].has_na and b.specs_["z"].reference == b.specs_["z"].na_code


def test_merging_to_one_level_leaves_no_design_column():
    df = pd.DataFrame({"x": np.arange(40.0), "g": ["a", "b"] * 20})
    y = np.r_[np.ones(3), np.zeros(37)].astype(int)
    b = AttributeBinner(bins=4, columns=["x", "g"]).fit(df, y)
    assert b.term_names_ == [] and b.specs_["x"].labels == ["(-Inf, Inf]"]
    assert b.design(df).shape == (40, 0)
    assert b.categorical_frame(b.encode(df)).shape == (40, 0)


def test_merge_settings_and_outcomes_are_checked(sparse_frame):
    df, y = sparse_frame
    with pytest.raises(ValueError, match="min_bin_defaults"):
        AttributeBinner(min_bin_defaults=-1, columns=["x"]).fit(df, y)
    with pytest.raises(ValueError, match="one outcome per training row"):
        AttributeBinner(columns=["x"]).fit(df, y[:5])
    with pytest.raises(ValueError, match="0 .* or 1"):
        AttributeBinner(columns=["x"]).fit(df, y * 2)


def test_dict_roundtrip_with_merges(sparse_frame):
    import json

    df, y = sparse_frame
    b = AttributeBinner(reference={"grade": "B"}, columns=["x", "grade", "z"]).fit(df, y)
    assert len(b.merges_) == 3
    back = AttributeBinner.from_dict(json.loads(json.dumps(b.to_dict())))
    assert back.term_names_ == b.term_names_
    pd.testing.assert_frame_equal(back.levels_table(), b.levels_table())
    pd.testing.assert_frame_equal(back.merges_, b.merges_)
    new = pd.concat([df, pd.DataFrame({"x": [np.nan], "grade": ["E"], "z": [np.nan]})])
    with pytest.raises(DataValidationError, match="column 'x'"):
        b.encode(new)
    ok = new.fillna({"x": 1.0})
    assert (back.design(ok) != b.design(ok)).nnz == 0


# ---------------------------------------------------------------------- scikit-learn contract
def test_works_in_a_pipeline_with_logistic_regression(frame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    y = (rng.random(len(frame)) < np.where(frame["grade"] == "C", 0.4, 0.1)).astype(int)
    pipe = Pipeline([("bin", AttributeBinner(bins=4, columns=["x", "grade"])),
                     ("onehot", OneHotEncoder(handle_unknown="ignore")),
                     ("logit", LogisticRegression())])
    pipe.fit(frame, y)  # the binner receives y as the outcome (sparse levels merged)
    assert pipe.predict_proba(frame).shape == (len(frame), 2)
    binner = pipe.named_steps["bin"]
    assert binner.columns_ == ["x", "grade"] and binner.levels_table()["defaults"].notna().all()
    assert binner.get_feature_names_out().tolist() == ["x", "grade"]
    out = Pipeline([("bin", AttributeBinner(bins=4, columns=["x"]))]).fit_transform(frame)
    assert list(out.columns) == ["x"] and out["x"].isna().sum() == 0  # NA has its own level
    assert set(out["x"].cat.categories) == set(binner.specs_["x"].labels)


def test_clone_and_set_params():
    from sklearn.base import clone

    b = AttributeBinner(bins=4, columns=["x"], cuts={"x": [0.0]}, reference={"x": "(0, Inf]"})
    twin = clone(b)
    assert twin.get_params() == b.get_params() and twin is not b
    assert twin.set_params(bins=6, columns=["x", "grade"]) is twin
    assert (twin.bins, twin.columns) == (6, ["x", "grade"])


def test_columns_as_second_fit_argument_still_works_with_a_warning(frame):
    with pytest.warns(DeprecationWarning, match="columns"):
        old = AttributeBinner(bins=4).fit(frame, ["x", "grade"])
    new = AttributeBinner(bins=4, columns=["x", "grade"]).fit(frame)
    assert old.term_names_ == new.term_names_
    assert AttributeBinner(bins=4).fit(frame).columns_ == ["x", "grade", "flag"]  # default: all


def test_an_attribute_merged_away_is_said_not_silent():
    """A perfectly predictive flag and an identifier-like zip both collapse to one level under
    sparse-level merging; the binner warns instead of dropping them silently (issue 17)."""
    rng = np.random.default_rng(0)
    y = rng.binomial(1, 0.05, 3000)
    df = pd.DataFrame({"perfect": np.where(y == 1, "bad", "good"),
                       "zip": [f"{z:05d}" for z in rng.integers(0, 5000, 3000)],
                       "x": rng.normal(size=3000)})
    with pytest.warns(UserWarning) as record:
        AttributeBinner(columns=["perfect", "zip", "x"]).fit(df, y)
    messages = [str(w.message) for w in record]
    assert any("'perfect'" in m and "drops out of the model" in m for m in messages)
    assert any("'zip'" in m and "drops out of the model" in m for m in messages)
    assert not any("'x'" in m for m in messages)


# ---------------------------------------------------------------------- exact labels, aliases, merges (issue 11)
def test_labels_show_the_cut_points_exactly():
    """A cut at 112,500 reads (90000, 112500] (it read (90000, 112000] before: rounded to 3 digits)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"income": rng.choice([60000, 90000, 112500, 150000], 4000)})
    b = AttributeBinner(bins=4, columns=["income"]).fit(df)
    assert "(90000, 112500]" in b.specs_["income"].labels
    assert b.specs_["income"].cuts[-1] == 112500.0


def test_long_quantile_cuts_are_shortened_without_moving_any_training_value(frame):
    """Continuous values: each cut moves up to a short number inside the gap to the next training
    value, so every training value keeps its bin and float(edge) equals the stored cut exactly."""
    x = frame["x"].to_numpy()
    b = AttributeBinner(bins=10, columns=["x"]).fit(frame)
    spec = b.specs_["x"]
    raw = np.quantile(x[~np.isnan(x)], np.arange(1, 10) / 10, method="inverted_cdf")
    fin = x[~np.isnan(x)]
    np.testing.assert_array_equal(np.searchsorted(spec.cuts, fin, side="left"),
                                  np.searchsorted(raw, fin, side="left"))
    edges = [lab.strip("(]").split(", ")[1] for lab in spec.labels[:-2]]
    assert [float(e) for e in edges] == spec.cuts                   # exact, not rounded
    assert max(len(e.replace("-", "").replace(".", "").lstrip("0")) for e in edges) <= 5


def _pensioners(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    kind = rng.choice(["Working", "Pensioner", "Student"], n, p=[0.7, 0.25, 0.05])
    employed = np.where(kind == "Pensioner", np.nan, rng.gamma(2.0, 3.0, n))
    employed[rng.random(n) < 0.003] = np.nan                         # a few workers without a value
    y = (rng.random(n) < 0.1).astype(int)
    return pd.DataFrame({"income_type": kind, "employed_years": employed}), y


def test_near_aliased_levels_warn_with_names_and_levels():
    """The real-panel case: 'Pensioner' and 'employed_years NA' describe (nearly) the same accounts."""
    df, y = _pensioners()
    with pytest.warns(UserWarning, match=r"near-aliased levels.*'income_type Pensioner' and "
                                         r"'employed_years NA' are nearly identical") as rec:
        b = AttributeBinner(bins=5).fit(df, y)
    assert len([r for r in rec if "near-aliased" in str(r.message)]) == 1
    (a,) = b.aliases_
    assert a["attributes"] == ["income_type", "employed_years"] and a["corr"] > 0.95
    differ = int(((df["income_type"] == "Pensioner") != df["employed_years"].isna()).sum())
    assert f"{differ:,} rows differ" in a["text"]
    back = AttributeBinner.from_dict(b.to_dict())
    assert back.aliases_ == b.aliases_


def test_independent_attributes_do_not_warn(frame):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = AttributeBinner(bins=4, columns=["x", "grade", "flag"]).fit(frame)
    assert b.aliases_ == []


def test_a_level_nested_in_a_level_with_too_few_other_defaults_warns():
    """Every 'Student' account is in 'young', and young non-students hold only 2 defaults: the
    contrast between the two levels rests on 2 defaults."""
    rng = np.random.default_rng(1)
    n = 4000
    student = rng.random(n) < 0.1
    young = student | (rng.random(n) < 0.01)
    y = (rng.random(n) < 0.15).astype(int)
    y[young & ~student] = 0
    y[np.flatnonzero(young & ~student)[:2]] = 1
    df = pd.DataFrame({"occupation": np.where(student, "Student", "Other"),
                       "band": np.where(young, "young", "older")})
    with pytest.warns(UserWarning, match=r"is nested entirely in .*whose other \d+ rows hold 2 defaults"):
        b = AttributeBinner().fit(df, y)
    (a,) = b.aliases_  # one pair of two two-level attributes (the complements say the same)
    assert set(a["attributes"]) == {"occupation", "band"}


def test_merged_bins_are_said(sparse_frame):
    df, y = sparse_frame
    with pytest.warns(UserWarning, match=r"sparse levels merged .*min_bin_defaults=5.*'x': .* -> "):
        b = AttributeBinner(bins=10, columns=["x"]).fit(df, y)
    assert len(b.merges_)
