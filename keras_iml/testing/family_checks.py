"""The common checks of a zoo family, chosen by its declared hooks: its declarations,
and, where its files are at hand (``source``) or it needs none (``needs_files``),
its ``example`` model loaded, run and reloaded from the cache."""

import tempfile

import numpy as np

import keras
from keras_iml import dna
from keras_iml.zoo import families, load

__all__ = ["family_checks", "check_family"]


def _check_declarations(name):
    family = families.get(name)
    assert isinstance(family.name, str) and family.name == name and "/" not in name
    assert all(isinstance(o, str) for o in family.options), f"options={family.options!r}"
    if families.REGISTRY.fallback is not family:
        assert families.family_of(f"{name}/any") is family, "zoo names of the family do not reach it"
    if family.example is not None:
        assert families.family_of(family.example) is family, (
            f"example {family.example!r} is not a zoo name of the family")


def _check_example_loads(name, source, cache_dir):
    family = families.get(name)
    source = source if family.needs_files else None  # a family without files reads no source
    with tempfile.TemporaryDirectory() as scratch:
        cache = cache_dir or scratch
        first = load(family.example, source=source, cache_dir=cache, offline=True)
        model = first.model if hasattr(first, "model") else first
        assert isinstance(model, keras.Model), type(model)
        # a length-free model (SpliceAI) declares the shortest input it takes
        length = int(first.metadata["input_length"] or first.metadata["min_input_length"])
        x = dna.random_sequences(3, length, rng=0)
        assert model.inputs[0].shape[-1] == 4 and first.metadata.get("family") == name, first.metadata
        y = np.asarray(first.predict(x, verbose=0)) if hasattr(first, "predict") else np.asarray(model(x))
        assert y.shape[0] == 3 and np.isfinite(y).all(), f"predictions {y!r}"
        again = load(family.example, source=source, cache_dir=cache, offline=True)  # from the cache
        y2 = np.asarray(again.predict(x, verbose=0)) if hasattr(again, "predict") else np.asarray(again(x))
        np.testing.assert_allclose(y, y2, rtol=1e-5, atol=1e-6, err_msg="the cached model differs")


def family_checks(family, source=None, cache_dir=None):
    """The checks of a registered zoo family.

    Args:
        family: a registered family's name.
        source: the Kipoi source directory with its files (the shared zoo); without
            it a family that ``needs_files`` is checked on its declarations only.
        cache_dir: where converted models are cached (default: a temporary folder).

    Returns:
        list of ``(check_name, function)``.
    """
    instance = families.get(family)
    checks = [("check_declarations", lambda: _check_declarations(family))]
    if instance.example is not None and (source is not None or not instance.needs_files):
        checks.append(("check_example_loads", lambda: _check_example_loads(family, source, cache_dir)))
    return checks


def check_family(family, source=None, cache_dir=None):
    """Runs every check of :func:`family_checks`; AssertionError names the one that failed."""
    for check_name, check in family_checks(family, source, cache_dir):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{family}: {check_name} failed: {err}") from err
