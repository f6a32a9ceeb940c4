"""``keras-iml validate MODEL DATA [--protocol P] [--out DIR]``: a CI gate for explanations.

Writes ``DIR/report.json``, ``DIR/report.html`` (unless ``--no-html``),
``DIR/summary.csv`` and, for a BED input, ``DIR/sequences.csv`` (each sequence's
index, name, chrom, start, end and strand). ``--out`` is checked before any work.
Exit status (see :mod:`keras_iml.cli`): 0 when every thresholded result was decided
and passed, 1 when a decided threshold failed, 2 on bad input, 3 when the evidence
is too weak to decide (inconclusive: never a pass), 4 when the results could not be
written to ``--out`` (they are saved elsewhere, and the path printed).
The data and a model's auxiliary inputs are read as by ``keras-iml explain``
(``--genome``, ``--length``, ``--track NAME=FILE.bw``, ``--aux FILE.npz``).
"""

import os

from keras_iml import io
from keras_iml.cli import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, load_model, write_or_rescue
from keras_iml.cli import explain as cli_explain

__all__ = ["add_parser", "run", "method_specs"]


def add_parser(subparsers):
    p = subparsers.add_parser(
        "validate", help="tiered validation of a .keras model's explanations (exit 1: failed, "
                         "3: inconclusive)"
    )
    p.add_argument("model", help="a .keras model file")
    p.add_argument("data", help="FASTA, .npz (x, optional y, mask, names and auxiliary arrays) "
                                "or BED (with --genome)")
    p.add_argument("--protocol", default=None,
                   help="protocol YAML file, or 'default' / 'quick' (default: default)")
    p.add_argument("--out", default="validation",
                   help="output directory (default: validation; checked before any work)")
    cli_explain.add_input_arguments(p)
    p.add_argument("--methods", default=None, help="comma-separated method names (default: the protocol's)")
    cli_explain.add_method_arguments(p)
    p.add_argument("--motifs", default=None,
                   help="comma-separated JASPAR IDs or a MEME file for known-motif enrichment")
    p.add_argument("--target", type=cli_explain.parse_target, default=None,
                   help=cli_explain.TARGET_HELP)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=None, help="overrides the protocol's seed")
    p.add_argument("--no-html", action="store_true", help="skip report.html (JSON and CSV only)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def method_specs(names, protocol, options):
    """Method configs for ``validate``: each named method (or the protocol's) with the
    ``--option`` values it accepts, or None when there are neither names nor options.

    Raises:
        ValueError: an option that no method accepts.
    """
    from keras_iml import methods as methods_lib
    from keras_iml.validation.protocol import Protocol

    if not options:
        return names
    proto = Protocol.from_any(protocol)
    specs, used = [], set()
    for label in names or proto.methods:
        if names is None or label in proto.methods:
            config = dict(proto.methods.get(label) or {})
            name = config.pop("name", label)
        else:
            name, config = label, {}
        accepted = set(methods_lib.REGISTRY.get_class(name).option_names()) \
            if name in methods_lib.names() else set()
        mine = {k: v for k, v in options.items() if k in accepted}
        used.update(mine)
        specs.append({"name": name, **config, **mine})
    unused = sorted(set(options) - used)
    if unused:
        raise ValueError(f"No method of the run takes the option(s) {unused}. "
                         f"Received: --option for methods {[s['name'] for s in specs]}")
    return specs


def _write(report, out, no_html, data):
    import pandas as pd

    from keras_iml.io import atomic_write

    def write(folder):
        os.makedirs(folder, exist_ok=True)
        report.to_json(os.path.join(folder, "report.json"))
        atomic_write(os.path.join(folder, "summary.csv"),
                     lambda tmp: report.summary.to_csv(tmp, index=False))
        columns = cli_explain.interval_columns(data)
        if columns:
            table = pd.DataFrame({"seq": range(len(data["x"])), "name": data.get("names"), **columns})
            atomic_write(os.path.join(folder, "sequences.csv"), lambda tmp: table.to_csv(tmp, index=False))
        if not no_html:
            report.to_html(os.path.join(folder, "report.html"))

    return write_or_rescue(out, write, "validation results")


def run(args):
    io.check_writable(args.out, directory=True)  # before any work (and before TensorFlow loads)
    options = cli_explain.parse_options(args.option)
    from keras_iml.validation import validate

    names = args.methods.split(",") if args.methods else None
    methods = method_specs(names, args.protocol, options)
    model = load_model(args.model)
    data = cli_explain.read_inputs(args, model, alphabet=args.alphabet)
    motifs = None
    if args.motifs:
        motifs = args.motifs if os.path.exists(args.motifs) else args.motifs.split(",")
    report = validate(
        model, data["x"], data.get("y"),
        methods=methods,
        ground_truth=data.get("mask"), motifs=motifs, protocol=args.protocol,
        batch_size=args.batch_size, seed=args.seed, target=cli_explain.model_target(model, args.target),
        verbose=0 if args.quiet else 1, aux=data["aux"], names=data["names"],
        dna_input=args.dna_input, alphabet=args.alphabet,
    )
    _write(report, args.out, args.no_html, data)
    print(report)
    outcome = report.outcome
    if outcome == "failed":
        failed = report.failed
        print(f"FAILED: {len(failed)} decided threshold(s) failed:")
        if len(failed):
            print(failed[["tier", "metric", "method", "value", "threshold"]].to_string(index=False))
        return EXIT_FAILED
    if outcome == "inconclusive":
        undecided = report.undecided
        print(f"INCONCLUSIVE: the evidence is too weak to decide {len(undecided)} thresholded "
              f"result(s) (too few sequences scored to beat placebo); validate more sequences. "
              f"This is not a pass. Report in {args.out}")
        return EXIT_INCONCLUSIVE
    print(f"PASSED: every thresholded result of the protocol was decided and passed. "
          f"Report in {args.out}")
    return EXIT_OK
