"""The boosted trees' training accounts are scored from LightGBM's own training scores (issue 19).

``OffsetGBM.predict_account_score`` on the fit's data reads the training accounts' scores kept
at the end of boosting and predicts only the other accounts. Tolerance 1e-12: the kept scores are the same
tree outputs summed in the same order as ``predict`` (measured: equal bit for bit at 20,000
and 146,500 accounts); the evaluation hook that reads them must not change the trees.
"""

import numpy as np
import pytest

from apcfair import load_portfolio
from apcfair.offsets import OffsetTable
from apcfair.scoring import OffsetGBM
from apcfair.scoring.gbm import train_with_scores
from data_synth import SynthConfig, generate_portfolio

ATTRS = ["bureau_score", "interest_rate", "subcategory", "credit_limit", "total_deposits"]


@pytest.fixture(scope="module")
def setting():
    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=6_000, seed=5)).loans)
    ages = np.arange(0, 200)
    off = OffsetTable(0, -5.0 + 0.8 * np.exp(-ages / 12), int(portfolio.loans["vintage"].min()) - 5,
                      0.3 * np.sin(np.arange(400) / 9))
    mask = np.random.default_rng(1).random(len(portfolio.loans)) < 0.5
    r = np.random.default_rng(2).normal(0, 0.3, len(portfolio.loans))
    return portfolio, off, mask, r


def _fit(setting, **kw):
    portfolio, off, mask, r = setting
    return OffsetGBM(n_estimators=40, learning_rate=0.1, num_leaves=7, min_child_samples=50,
                     random_state=0, **kw).fit(portfolio, ATTRS, offset=off, account_offset=r, accounts=mask)


def test_kept_training_scores_equal_predict(setting):
    portfolio, _, mask, _ = setting
    gbm = _fit(setting)
    assert gbm.training_scores_ is not None and len(gbm.training_scores_) == mask.sum()
    full = gbm.booster_.predict(gbm.encoder_.transform(portfolio.loans), raw_score=True)   # every row
    reused = gbm.predict_account_score(portfolio)
    np.testing.assert_allclose(reused, full, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gbm.training_scores_, full[mask], rtol=0, atol=1e-12)


def test_reading_the_scores_does_not_change_the_trees(setting):
    """Trees from train_with_scores equal those of a plain lgb.train with the same objective."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 4))
    y = (rng.random(3_000) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)

    def objective(preds, _data):
        p = 1 / (1 + np.exp(-preds))
        return p - y, p * (1 - p)

    params = {"objective": objective, "num_leaves": 7, "learning_rate": 0.1, "verbosity": -1, "seed": 0,
              "num_threads": 1, "deterministic": True, "force_row_wise": True, "bagging_fraction": 0.8,
              "bagging_freq": 1}
    plain = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=30)
    kept, scores = train_with_scores(lgb, params, lgb.Dataset(X, label=y), 30)
    assert plain.dump_model()["tree_info"] == kept.dump_model()["tree_info"]
    np.testing.assert_allclose(scores, plain.predict(X, raw_score=True), rtol=0, atol=1e-12)


def test_falls_back_to_predict_without_kept_scores(setting):
    portfolio, _, _, _ = setting
    gbm = _fit(setting)
    loaded = OffsetGBM.from_dict(gbm.to_dict())          # a loaded model keeps no training scores
    assert getattr(loaded, "training_scores_", None) is None
    full = gbm.booster_.predict(gbm.encoder_.transform(portfolio.loans), raw_score=True)
    np.testing.assert_array_equal(loaded.predict_account_score(portfolio), full)
    part = portfolio.loans.iloc[:100]                     # other data: predicted
    np.testing.assert_array_equal(gbm.predict_account_score(part), full[:100])


def test_other_data_with_the_same_accounts_count_is_predicted(setting):
    """Same number of accounts, other attribute values: the kept scores must not be used."""
    portfolio, _, _, _ = setting
    gbm = _fit(setting)
    other = portfolio.loans.copy()
    other["bureau_score"] = other["bureau_score"].to_numpy()[::-1]
    expected = gbm.booster_.predict(gbm.encoder_.transform(other), raw_score=True)
    np.testing.assert_array_equal(gbm.predict_account_score(other), expected)
