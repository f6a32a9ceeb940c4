"""The common checks of a distillation surrogate and of a query library, chosen by
their declared hooks (a surrogate's ``scope``, a library's ``uses_references``, and
whether either takes ``motifs``), on responses they can represent by construction."""

import numpy as np

from keras_iml.surrogate import libraries, models

__all__ = ["surrogate_checks", "check_surrogate", "library_checks", "check_library"]

LENGTH = 32
_PFM = np.full((6, 4), 0.02)
_PFM[np.arange(6), [0, 2, 3, 1, 1, 2]] = 0.94  # AGTCCG
MOTIFS = {"m1": _PFM}


def _with_motifs(registry, name, **options):
    """An instance, given the checks' motifs when it takes a ``motifs`` option."""
    takes = "motifs" in registry.REGISTRY.get_class(name).option_names()
    return registry.get(name, **({"motifs": MOTIFS} if takes else {}), **options)


def _run_checks(name, checks):
    for check_name, check in checks:
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{name}: {check_name} failed: {err}") from err


def _check_surrogate_config(name):
    sur = _with_motifs(models, name)
    again = type(sur)(**sur.get_config())
    assert again.get_config() == sur.get_config()
    try:
        _with_motifs(models, name, alpha=-1.0).check()
    except ValueError as err:
        assert "alpha" in str(err), err
    else:
        raise AssertionError("alpha=-1 did not raise ValueError")


def _queries(scope, rng):
    """Queries and a response the surrogate can represent: copies of an implanted motif
    plus GC content (global), or an additive function of a parent's mutants (local)."""
    if scope == "local":
        parent = libraries.get("implant", motifs=MOTIFS).sample(None, 1, rng, length=LENGTH).x
        x = libraries.get("mutagenesis", rate=0.1).sample(parent, 600, rng).x
        return x, np.einsum("nlb,lb->n", x, np.random.default_rng(4).normal(size=(LENGTH, 4))), 500
    q = libraries.get("implant", motifs=MOTIFS).sample(None, 1200, rng, length=LENGTH)
    y = q.design["copies"].to_numpy(float) + 0.15 * q.x[:, :, 1:3].sum((1, 2))
    return q.x, y, 900


def _check_surrogate_fit(name):
    scope = models.REGISTRY.get_class(name).scope
    x, y, n_fit = _queries(scope, np.random.default_rng(3))
    options = {"n_queries": len(x)} if "n_queries" in models.REGISTRY.get_class(name).option_names() else {}
    fitted = _with_motifs(models, name, **options).fit(x[:n_fit], y[:n_fit])
    score = fitted.score(x[n_fit:], y[n_fit:])
    assert score["spearman"] > 0.3, f"held-out Spearman {score['spearman']:.3f} on a response it can represent"
    again = _with_motifs(models, name, **options).fit(x[:n_fit], y[:n_fit])
    np.testing.assert_array_equal(fitted.coef_, again.coef_, err_msg="the fit is not deterministic")


def surrogate_checks(surrogate):
    """The checks of a registered surrogate: its config round-trips and checks
    ``alpha``; fitted on a response it can represent (chosen by its ``scope``), it
    ranks held-out queries well above chance, deterministically.

    Returns:
        list of ``(check_name, function)``.
    """
    models.REGISTRY.get_class(surrogate)
    return [("check_surrogate_config", lambda: _check_surrogate_config(surrogate)),
            ("check_surrogate_fit", lambda: _check_surrogate_fit(surrogate))]


def check_surrogate(surrogate):
    """Runs every check of :func:`surrogate_checks`; AssertionError names the one that failed."""
    _run_checks(surrogate, surrogate_checks(surrogate))


def _check_library_draws(name):
    lib = _with_motifs(libraries, name)
    again = type(lib)(**lib.get_config())
    assert again.get_config() == lib.get_config()
    a = lib.sample(None, 40, np.random.default_rng(5), length=LENGTH)
    b = lib.sample(None, 40, np.random.default_rng(5), length=LENGTH)
    c = lib.sample(None, 40, np.random.default_rng(6), length=LENGTH)
    assert a.x.dtype == np.float32 and a.x.shape == (40, LENGTH, 4), (a.x.dtype, a.x.shape)
    np.testing.assert_array_equal(a.x.sum(-1), 1.0, err_msg="queries are not one-hot")
    assert len(a.design) == 40 and a.library == name
    np.testing.assert_array_equal(a.x, b.x, err_msg="not reproducible under the generator's seed")
    assert a.design.equals(b.design)
    assert not np.array_equal(a.x, c.x), "another seed draws the same queries"


def _check_library_references(name):
    """Declared ``uses_references``: built from the references when given."""
    lib = _with_motifs(libraries, name)
    refs = libraries.get("shuffle").sample(None, 3, np.random.default_rng(1), length=LENGTH).x
    q = lib.sample(refs, 20, np.random.default_rng(2))
    expected = "reference" if type(lib).uses_references else "generated"
    assert (q.design["source"] == expected).all(), set(q.design["source"])
    assert q.x.shape == (20, LENGTH, 4)


def library_checks(library):
    """The checks of a registered query library: config round trip, one-hot draws of
    the asked shape with a design row each, reproducible under the generator's seed,
    and the references used as its ``uses_references`` declares.

    Returns:
        list of ``(check_name, function)``.
    """
    libraries.REGISTRY.get_class(library)
    return [("check_library_draws", lambda: _check_library_draws(library)),
            ("check_library_references", lambda: _check_library_references(library))]


def check_library(library):
    """Runs every check of :func:`library_checks`; AssertionError names the one that failed."""
    _run_checks(library, library_checks(library))
