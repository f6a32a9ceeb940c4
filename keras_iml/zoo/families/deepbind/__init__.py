"""The DeepBind family (Alipanahi et al. 2015): native Keras 3 models from parameter files.

Zoo names ``DeepBind/<species>/<TF or RBP>/<ID>_<experiment>_<protein>`` load from
DeepBind's own parameter file ``<ID>.txt`` (found by
:meth:`~keras_iml.zoo.sources.store.WeightStore.deepbind_params`); no Kipoi
description is needed. The modules of this package:

* :mod:`~keras_iml.zoo.families.deepbind.params`: the parameter files;
* :mod:`~keras_iml.zoo.families.deepbind.scan`: the ``DeepBindScan`` layer and
  :func:`build_deepbind`;
* :mod:`~keras_iml.zoo.families.deepbind.mutagenesis`,
  :mod:`~keras_iml.zoo.families.deepbind.envelope` and
  :mod:`~keras_iml.zoo.families.deepbind.hooks`: the layer's faster exact ISM
  and integrated gradients, registered with :mod:`keras_iml.engine.fast_paths` when
  this package is imported (which importing anything from :mod:`keras_iml.zoo` does);
* :mod:`~keras_iml.zoo.families.deepbind.checks`: motif-insertion checks over many
  models.
"""

import re

from keras_iml.zoo.families.base import Family, register
from keras_iml.zoo.families.deepbind import hooks  # noqa: F401 - registers the fast paths
from keras_iml.zoo.families.deepbind.params import DeepBindParams, read_params
from keras_iml.zoo.families.deepbind.scan import DeepBindScan, build_deepbind
from keras_iml.zoo.sources.store import md5sum

__all__ = ["DeepBind", "DeepBindParams", "DeepBindScan", "build_deepbind", "model_id", "read_params"]


def model_id(name):
    """The DeepBind ID (``D#####.###``) in a zoo name.

    Raises:
        ValueError: the name holds no ID.
    """
    match = re.search(r"D\d{5}\.\d{3}", name)
    if match is None:
        raise ValueError(f"A DeepBind model name must contain its ID (D#####.###). Received: {name!r}")
    return match.group(0)


def _tf_names(request):
    """The TF of the catalogue row, else the protein at the end of the zoo name."""
    tf = (request.row or {}).get("tf")
    if tf:
        return [tf]
    match = re.search(r"D\d{5}\.\d{3}_[^_]+_(.+)$", request.name)
    return [match.group(1)] if match else []


@register
class DeepBind(Family):
    """DeepBind models; options ``window_size`` (default ``int(1.5 * detector_len)``) and
    ``average`` (mean over windows instead of max); any ``input_length`` (default the
    description's, else 101)."""

    name = "DeepBind"
    example = "DeepBind/Homo_sapiens/TF/D00328.018_ChIP-seq_CTCF"
    needs_spec = False
    options = ("window_size", "average")

    def catalogue_rows(self, shared, jaspar_db):
        from keras_iml.zoo.families.deepbind.listing import deepbind_rows

        return deepbind_rows(shared, jaspar_db)

    def resolve(self, request):
        md5 = (request.row or {}).get("weights_md5") or None
        path = request.store.deepbind_params(model_id(request.name), md5=md5)
        return {"params": (path, md5 or md5sum(path))}

    def build(self, request, files):
        params = read_params(files["params"][0])
        spec_length = request.spec.input_length if request.spec is not None else None
        length = request.input_length or spec_length or 101
        window = request.options.get("window_size")
        average = bool(request.options.get("average", False))
        model = build_deepbind(params, length, window_size=window, average=average,
                               name=model_id(request.name).replace(".", "_"))
        info = {"variant": dict(reverse_complement=params.reverse_complement,
                                has_avg_pooling=params.has_avg_pooling, num_hidden=params.num_hidden,
                                detector_len=params.detector_len),
                "window_size": window or params.default_window,
                "window_pooling": "mean" if average else "max",
                "output": "DeepBind score (unbounded, not a probability)",
                "tf": _tf_names(request)}
        return model, info
