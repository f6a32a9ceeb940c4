"""``keras-iml zoo list`` and ``keras-iml zoo validate``: the model catalogue and batch validation."""

import os

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    p = subparsers.add_parser("zoo", help="published zoo models: list, batch-validate")
    sub = p.add_subparsers(dest="zoo_command", metavar="ACTION")
    lst = sub.add_parser("list", help="the catalogue of supported zoo models")
    lst.add_argument("--family", default=None, help="e.g. DeepBind, FactorNet")
    lst.add_argument("--type", default=None, help="e.g. TF, RBP")
    lst.add_argument("--tf", default=None, help="one TF name")
    lst.add_argument("--columns", default="name,tf,type,experiment,jaspar_ids,supported",
                     help="comma-separated columns to print")
    val = sub.add_parser("validate", help="load, explain and validate many models")
    val.add_argument("names", nargs="*", help="model names (default: the catalogue filter)")
    val.add_argument("--family", default=None)
    val.add_argument("--type", default=None)
    val.add_argument("--source", required=True, help="Kipoi source directory (kipoi/models layout)")
    val.add_argument("--out", required=True, help="output directory")
    val.add_argument("--limit", type=int, default=None, help="validate the first N models only")
    val.add_argument("--executor", choices=("local", "ray"), default="local")
    val.add_argument("--workers", type=int, default=1, help="parallel workers")
    val.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    val.add_argument("--resume", action="store_true", help="continue a run in --out")
    val.add_argument("--protocol", default=None, help="'quick', or a protocol YAML (default: default)")
    val.add_argument("--n-sequences", type=int, default=16, help="evaluation sequences per model")
    val.add_argument("--input-length", type=int, default=None)
    val.add_argument("--seed", type=int, default=0)
    val.add_argument("--offline", action="store_true", help="never download")
    val.add_argument("--cache-dir", default=None, help="cache (default: $KERAS_IML_CACHE or ~/.cache/keras_iml)")
    p.set_defaults(func=run, zoo_parser=p)


def _list(args):
    from keras_iml.zoo import list_models

    frame = list_models(family=args.family, type=args.type, tf=args.tf)
    columns = [c for c in args.columns.split(",") if c in frame.columns]
    with_pd_options(lambda: print(frame[columns].to_string(index=False)))
    print(f"{len(frame)} models")
    return 0


def with_pd_options(fn):
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.max_colwidth", 60):
        fn()


def _validate(args):
    from keras_iml.zoo import list_models
    from keras_iml.zoo.batch import BatchSettings
    from keras_iml.zoo.batch import run_batch

    from keras_iml import io

    io.check_writable(args.out, directory=True)  # before any work
    names = list(args.names) or list_models(family=args.family, type=args.type,
                                            supported_only=True)["name"].tolist()
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f"--limit must be >= 1. Received: {args.limit}")
        names = names[: args.limit]
    if not names:
        raise ValueError("No models to validate: check --family / --type or give names.")
    settings = BatchSettings(source=args.source, n_sequences=args.n_sequences,
                             input_length=args.input_length, protocol=args.protocol,
                             seed=args.seed, offline=True if args.offline else None,
                             cache_dir=args.cache_dir)
    bar = {}

    def progress(done, total, row):
        import keras

        if "bar" not in bar:
            bar["bar"] = keras.utils.Progbar(total, unit_name="model")
        status = row["status"] if row else "start"
        bar["bar"].update(done, values=None if row is None else [("ok", float(status == "ok"))])

    frame = run_batch(names, settings, args.out, executor=args.executor, n_workers=args.workers,
                      address=args.address, resume=args.resume, progress=progress)
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    print(f"\n{len(frame)} models in {os.path.join(args.out, 'results.sqlite')}: {counts}; "
          f"summary: {os.path.join(args.out, 'summary.html')}")
    return 0


_ACTIONS = {"list": _list, "validate": _validate}


def run(args):
    action = _ACTIONS.get(args.zoo_command)
    if action is None:
        args.zoo_parser.print_help()
        return 2
    return action(args)
