"""Benchmark cases: keras_iml methods and their peers on one Basset-like CNN.

Every case runs in its own subprocess (``python benchmarks/cases.py CASE N``) so
that its peak memory (max RSS) is its own. The model is the issue's Basset-like
CNN: Conv1D 64x19 ReLU, MaxPool 4, Conv1D 64x7 ReLU, GlobalMaxPool, Dense 1, on
1,000-bp inputs; weights are seeded, and the PyTorch twins get the same weights
(:func:`torch_model` written functionally, :func:`torch_module_twin` with
``nn.Module`` nonlinearities, which tangermeme's DeepLIFT rules need). Cases may
attach a ``quality`` function: it runs after the timing and adds its figures
(here the convergence of DeepLIFT-style attributions) to the printed JSON.
"""

import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

LENGTH = 1000


def keras_model(global_max=True):
    import keras

    layers = [
        keras.Input((LENGTH, 4)),
        keras.layers.Conv1D(64, 19, activation="relu"),
        keras.layers.MaxPooling1D(4),
        keras.layers.Conv1D(64, 7, activation="relu"),
    ]
    if global_max:
        layers.append(keras.layers.GlobalMaxPooling1D())
    else:  # the same function written so that shap's DeepExplainer runs
        layers += [keras.layers.MaxPooling1D((LENGTH - 18) // 4 - 6), keras.layers.Flatten()]
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in model.get_weights()])
    return model


def torch_model(kmodel):
    import torch

    class Basset(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv1d(4, 64, 19)
            self.c2 = torch.nn.Conv1d(64, 64, 7)
            self.fc = torch.nn.Linear(64, 1)

        def forward(self, x):  # x: (N, 4, L) as the PyTorch tools expect
            h = torch.relu(self.c1(x))
            h = torch.nn.functional.max_pool1d(h, 4)
            h = torch.relu(self.c2(h))
            return self.fc(h.max(dim=-1).values)

    net = Basset().eval()
    w = kmodel.get_weights()
    with torch.no_grad():
        net.c1.weight.copy_(torch.tensor(np.transpose(w[0], (2, 1, 0))))
        net.c1.bias.copy_(torch.tensor(w[1]))
        net.c2.weight.copy_(torch.tensor(np.transpose(w[2], (2, 1, 0))))
        net.c2.bias.copy_(torch.tensor(w[3]))
        net.fc.weight.copy_(torch.tensor(w[4].T))
        net.fc.bias.copy_(torch.tensor(w[5]))
    return net


def torch_module_twin(kmodel):
    """The same CNN and weights written with ``nn.Module`` nonlinearities.

    tangermeme applies its DeepLIFT rules through hooks on ``nn.ReLU`` and
    ``nn.MaxPool1d`` modules only; on :func:`torch_model` (functional ``torch.relu``,
    ``max_pool1d`` and ``max``) it silently treats every nonlinearity as linear.
    Here the global max is ``nn.MaxPool1d`` over the whole remaining length.
    """
    import torch

    nn = torch.nn
    src = torch_model(kmodel)
    net = nn.Sequential(
        nn.Conv1d(4, 64, 19), nn.ReLU(), nn.MaxPool1d(4), nn.Conv1d(64, 64, 7), nn.ReLU(),
        nn.MaxPool1d((LENGTH - 18) // 4 - 6), nn.Flatten(), nn.Linear(64, 1),
    ).eval()
    with torch.no_grad():
        for i, part in ((0, src.c1), (3, src.c2), (7, src.fc)):
            net[i].load_state_dict(part.state_dict())
    return net


def convergence(attr_sums, gains):
    """How far attributions are from summing to the output difference they explain.

    Args:
        attr_sums: ``(N,)`` sums of each sequence's attributions.
        gains: ``(N,)`` the differences they should sum to, ``mean_k f(x) - f(r_k)``.

    Returns:
        dict with ``convergence_max_rel`` (max over sequences of
        ``|sum - gain| / |gain|``) and ``convergence_mean_rel``
        (``mean |sum - gain| / mean |gain|``).
    """
    err = np.abs(np.asarray(attr_sums, np.float64) - np.asarray(gains, np.float64))
    gains = np.abs(np.asarray(gains, np.float64))
    return {"convergence_max_rel": float(np.max(err / np.maximum(gains, 1e-12))),
            "convergence_mean_rel": float(err.mean() / max(gains.mean(), 1e-12))}


def data(n):
    from keras_iml import dna

    return dna.random_sequences(n, LENGTH, rng=1)


# -- cases: each returns a callable that does the work on x ---------------------------
def case_predict():
    model = keras_model()
    return lambda x: model.predict(x, batch_size=128, verbose=0)


def case_plain_saliency():
    import tensorflow as tf

    model = keras_model()

    @tf.function
    def grad(xb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            y = model(xb, training=False)[:, 0]
        return tape.gradient(y, xb)

    return lambda x: np.concatenate([grad(tf.constant(x[i : i + 128])).numpy() for i in range(0, len(x), 128)])


def case_plain_ig32():
    import tensorflow as tf

    model = keras_model()
    alphas = tf.reshape(tf.linspace(1 / 64, 1 - 1 / 64, 32), (32, 1, 1))

    @tf.function
    def ig_one(xi):
        path = alphas * xi[None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            y = model(path, training=False)[:, 0]
        return tf.reduce_mean(tape.gradient(y, path), 0) * xi

    return lambda x: np.stack([ig_one(tf.constant(xi)).numpy() for xi in x])


def case_naive_ism():
    model = keras_model()

    def run(x):
        out = []
        for xi in x:
            muts = np.repeat(xi[None], LENGTH * 4, axis=0).reshape(LENGTH, 4, LENGTH, 4)
            idx = np.arange(LENGTH)
            muts[idx, :, idx, :] = np.eye(4, dtype=np.float32)[None]
            preds = model.predict(muts.reshape(-1, LENGTH, 4), batch_size=512, verbose=0)
            out.append(preds.reshape(LENGTH, 4) - model.predict(xi[None], verbose=0)[0, 0])
        return out

    return run


def keras_iml_case(name, **options):
    def make():
        import keras_iml

        iml = keras_iml.wrap(keras_model())  # keeps its compiled functions, like predict

        def run(x):
            return iml.explain(x, name, seed=0, verbose=0, **options)

        def quality(x, attr):  # from the timed result: sum(values) - delta = the gain
            if getattr(attr, "convergence_delta", None) is None:
                return {}
            sums = attr.values.sum(axis=(1, 2))
            return convergence(sums, sums - attr.convergence_delta)

        run.quality = quality
        return run

    return make


def case_shap_deep():
    import shap

    model = keras_model(global_max=False)
    explainer = shap.DeepExplainer(model, data(20))
    return lambda x: explainer.shap_values(x, check_additivity=False)


def case_shap_gradient():
    import shap

    model = keras_model()
    explainer = shap.GradientExplainer(model, data(20))
    return lambda x: explainer.shap_values(x, nsamples=32)


def case_tfexplain_ig():
    import tensorflow as tf
    from tf_explain.core.integrated_gradients import IntegratedGradients

    model = keras_model()
    alphas = ((np.arange(32) + 0.5) / 32).astype("float32")[None, :, None, None]

    def path(xb):  # tf-explain's helper takes the interpolated inputs, (N * steps, L, 4)
        return tf.constant((alphas * xb[:, None]).reshape(-1, LENGTH, 4))

    return lambda x: [IntegratedGradients.get_integrated_gradients(
        path(x[i : i + 8]), model, 0, 32) for i in range(0, len(x), 8)]


def case_captum_saliency():
    import torch
    from captum.attr import Saliency

    net = torch_model(keras_model())
    sal = Saliency(net)
    tt = lambda x: torch.tensor(np.transpose(x, (0, 2, 1)))  # noqa: E731
    return lambda x: [sal.attribute(tt(x[i : i + 128]).requires_grad_(), target=0, abs=False)
                      for i in range(0, len(x), 128)]


def case_captum_ig32():
    import torch
    from captum.attr import IntegratedGradients

    net = torch_model(keras_model())
    ig = IntegratedGradients(net)
    tt = lambda x: torch.tensor(np.transpose(x, (0, 2, 1)))  # noqa: E731
    return lambda x: [ig.attribute(tt(x[i : i + 16]), target=0, n_steps=32, internal_batch_size=512)
                      for i in range(0, len(x), 16)]


def tangermeme_dls_case(twin):
    """tangermeme's ``deep_lift_shap`` (20 dinucleotide shuffles) on a PyTorch twin.

    ``quality`` (not timed) reruns it with ``return_references=True`` (same seed,
    same attributions) and measures how far each sequence's attributions are from
    summing to ``mean_k f(x) - f(r_k)``.
    """

    def make():
        import torch
        from tangermeme.deep_lift_shap import deep_lift_shap

        net = twin(keras_model())
        tt = lambda x: torch.tensor(np.transpose(x, (0, 2, 1)))  # noqa: E731
        kwargs = dict(target=0, n_shuffles=20, random_state=0, warning_threshold=1e9,
                      verbose=False)

        def run(x):
            return deep_lift_shap(net, tt(x), **kwargs)

        def quality(x, _):
            out = deep_lift_shap(net, tt(x), return_references=True, **kwargs)
            refs = out.references
            with torch.no_grad():
                fx = net(tt(x))[:, 0].double()
                fr = net(refs.reshape((-1,) + refs.shape[2:]))[:, 0].double()
            gains = fx - fr.reshape(refs.shape[:2]).mean(dim=1)
            return convergence(out.attributions.double().sum(dim=(1, 2)).numpy(),
                               gains.numpy())

        run.quality = quality
        return run

    return make


def case_tangermeme_ism():
    import torch
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    net = torch_model(keras_model())
    tt = lambda x: torch.tensor(np.transpose(x, (0, 2, 1)))  # noqa: E731
    return lambda x: saturation_mutagenesis(net, tt(x), batch_size=512, verbose=False)


def case_stream_100k(n):
    """Saliency streamed over n sequences from a generator: flat memory."""
    import tensorflow as tf

    import keras_iml

    model = keras_model()

    def gen():
        rng = np.random.default_rng(0)
        eye = np.eye(4, dtype=np.float32)
        for _ in range(n // 1000):
            yield eye[rng.integers(0, 4, (1000, LENGTH))]

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec((None, LENGTH, 4), tf.float32))

    def run(_):
        total = 0.0
        for part in keras_iml.iter_explain(model, ds, "saliency", batch_size=256, verbose=0):
            total += float(np.abs(part.values).sum())
        return total

    return run


CASES = {
    "keras predict": case_predict,
    "plain tape saliency": case_plain_saliency,
    "plain tape IG (32 steps)": case_plain_ig32,
    "naive batched ISM (predict)": case_naive_ism,
    "shap DeepExplainer (20 refs, MaxPool+Flatten twin)": case_shap_deep,
    "shap GradientExplainer (32 samples)": case_shap_gradient,
    "tf-explain IG helper (32 steps, no x input)": case_tfexplain_ig,
    "captum Saliency (PyTorch)": case_captum_saliency,
    "captum IG 32 (PyTorch)": case_captum_ig32,
    "tangermeme deep_lift_shap (20)": tangermeme_dls_case(torch_module_twin),
    "tangermeme deep_lift_shap (20), functional twin": tangermeme_dls_case(torch_model),
    "tangermeme saturation_mutagenesis": case_tangermeme_ism,
}


def main():
    name, n = sys.argv[1], int(sys.argv[2])
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if name == "stream":
        fn, x = case_stream_100k(n), None
    else:
        factory = keras_iml_case(name.split(":", 1)[1], **options) if name.startswith("keras_iml:") else CASES[name]
        fn, x = factory(), data(n)
        fn(x[:2])  # warm-up: tracing and compilation are not timed, as for the peers
    t0 = time.perf_counter()
    out = fn(x)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import tensorflow as tf

    result = {"case": name, "n": n, "seconds": seconds, "seq_per_s": n / seconds,
              "peak_rss_mb": peak_mb, "start_rss_mb": base_rss / 1024, "tf": tf.__version__}
    if hasattr(fn, "quality"):  # after timing and the memory reading: not counted
        result.update(fn.quality(x, out))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
