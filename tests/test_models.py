"""Model builders, the seeded trainer, ensembles and the numpy AUROC/AUPRC."""

import functools

import numpy as np
import pytest

from keras_iml import models
from keras_iml.datasets import make_tf_binding


# -- metrics ------------------------------------------------------------------------
def _pairwise_auroc(y, s):
    """AUROC from its definition: P(score_pos > score_neg) + 0.5 P(tie)."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / diff.size


def _stepwise_ap(y, s):
    """Average precision from its definition: mean precision at each threshold, recall-weighted."""
    total = 0.0
    prev_recall = 0.0
    for t in np.unique(s)[::-1]:
        sel = s >= t
        recall = y[sel].sum() / y.sum()
        total += (recall - prev_recall) * y[sel].mean()
        prev_recall = recall
    return total


def test_auroc_auprc_against_definitions():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 200)
        s = np.round(rng.normal(size=200) + y, 1)  # rounding makes ties
        assert np.isclose(models.auroc(y, s), _pairwise_auroc(y, s))
        assert np.isclose(models.auprc(y, s), _stepwise_ap(y, s))
    assert models.auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert np.isclose(models.auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 5 / 6)
    assert models.auroc([0, 1], [0.5, 0.5]) == 0.5
    assert models.auprc([1, 0, 1], [3, 2, 1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_metric_errors():
    with pytest.raises(ValueError, match="both classes"):
        models.auroc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="same number"):
        models.auprc([0, 1], [0.2])
    with pytest.raises(ValueError, match="0/1"):
        models.auroc([0, 2], [0.1, 0.2])


# -- builders -----------------------------------------------------------------------
def test_builders_are_seeded():
    for build in (models.deepbind_like, models.basset_like):
        a, b, c = build(60, seed=1), build(60, seed=1), build(60, seed=2)
        assert a.output_shape == (None, 1)
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
        assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_builder_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        models.deepbind_like(10, kernel_size=24)
    with pytest.raises(ValueError, match="length"):
        models.basset_like(4, pool_sizes=(3, 3))
    with pytest.raises(ValueError, match="head"):
        models.basset_like(60, head="attention")
    with pytest.raises(ValueError, match="seed"):
        models.basset_like(60, seed=-1)


# -- training -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def task():
    data = make_tf_binding(900, 60, grammar="single", decoys=("MA0058.3",), seed=0)
    return data.subset(np.arange(700)), data.subset(np.arange(700, 900))


def test_train_learns_the_motif_and_is_reproducible(task):
    train, test = task
    kw = dict(epochs=12, patience=2, seed=4, verbose=0, learning_rate=3e-3)
    m1 = models.deepbind_like(60, filters=16, seed=0)
    history = models.train(m1, train.x, train.y, **kw)
    assert list(history.columns) == ["epoch", "loss", "val_loss", "val_auroc", "seconds"]
    score = models.evaluate(m1, test.x, test.y)
    assert score["auroc"] > 0.9, score
    # the best epoch's weights are restored
    best = history.val_loss.idxmin()
    assert history.val_loss[best] == history.val_loss.min()
    m2 = models.deepbind_like(60, filters=16, seed=0)
    models.train(m2, train.x, train.y, **kw)
    for wa, wb in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_train_ensemble_members_differ(task):
    train, _ = task
    builder = functools.partial(models.deepbind_like, 60, filters=8)
    members, histories = models.train_ensemble(builder, train.x, train.y, k=2, seed=0,
                                               epochs=1, verbose=0)
    assert len(members) == len(histories) == 2
    assert histories[0].seed[0] != histories[1].seed[0]
    assert not np.array_equal(members[0].get_weights()[0], members[1].get_weights()[0])


def test_train_errors(task):
    train, _ = task
    model = models.deepbind_like(60, filters=4)
    with pytest.raises(ValueError, match="one label per sequence"):
        models.train(model, train.x, train.y[:-1], verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        models.train(model, train.x, train.y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="validation_fraction"):
        models.train(model, train.x, train.y, validation_fraction=1.5, verbose=0)
    with pytest.raises(ValueError, match="`k`"):
        models.train_ensemble(models.deepbind_like, train.x, train.y, k=0)


def test_rc_augment_feeds_sequences_or_their_reverse_complements(task):
    train, _ = task
    model = models.deepbind_like(60, filters=4, seed=0)
    seen = []
    original = model.train_on_batch

    def spy(xb, yb, **kwargs):
        seen.append(np.array(xb))
        return original(xb, yb, **kwargs)

    model.train_on_batch = spy
    models.train(model, train.x, train.y, epochs=1, batch_size=700, validation_fraction=0.5,
                 rc_augment=True, seed=0, verbose=0)
    batch = seen[0]
    pool = {row.tobytes() for row in train.x}
    is_fwd = np.array([row.tobytes() in pool for row in batch])
    is_rc = np.array([row[::-1, ::-1].tobytes() in pool for row in batch])
    assert (is_fwd | is_rc).all()
    assert 0.35 < np.mean(is_rc & ~is_fwd) < 0.65
