"""``keras-iml validate MODEL DATA [--protocol P] [--out DIR]``: a CI gate for explanations.

Writes ``DIR/report.json``, ``DIR/report.html`` (unless ``--no-html``) and
``DIR/summary.csv`` and exits
with status 1 when a protocol threshold fails (0 when all pass, 2 on bad input).
The data and a model's auxiliary inputs are read as by ``keras-iml explain``
(``--genome``, ``--length``, ``--track NAME=FILE.bw``, ``--aux FILE.npz``).
"""

import os

from keras_iml import io
from keras_iml.cli import explain as cli_explain
from keras_iml.cli.explain import add_input_arguments, read_inputs
from keras_iml.io import atomic_write
from keras_iml.validation import validate


def add_parser(subparsers):
    p = subparsers.add_parser(
        "validate", help="tiered validation of a .keras model's explanations (exit 1 on failure)"
    )
    p.add_argument("model", help="a .keras model file")
    p.add_argument("data", help="FASTA, .npz (x, optional y, mask, names and auxiliary arrays) "
                                "or BED (with --genome)")
    p.add_argument("--protocol", default=None,
                   help="protocol YAML file, or 'default' / 'quick' (default: default)")
    p.add_argument("--out", default="validation", help="output directory (default: validation)")
    add_input_arguments(p)
    p.add_argument("--methods", default=None, help="comma-separated method names (default: the protocol's)")
    p.add_argument("--motifs", default=None,
                   help="comma-separated JASPAR IDs or a MEME file for known-motif enrichment")
    p.add_argument("--target", type=cli_explain.parse_target, default=None,
                   help=cli_explain.TARGET_HELP)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=None, help="overrides the protocol's seed")
    p.add_argument("--no-html", action="store_true", help="skip report.html (JSON and CSV only)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    model = io.load_model(args.model)
    data = read_inputs(args, model)
    motifs = None
    if args.motifs:
        motifs = args.motifs if os.path.exists(args.motifs) else args.motifs.split(",")
    report = validate(
        model, data["x"], data.get("y"),
        methods=args.methods.split(",") if args.methods else None,
        ground_truth=data.get("mask"), motifs=motifs, protocol=args.protocol,
        batch_size=args.batch_size, seed=args.seed, target=args.target,
        verbose=0 if args.quiet else 1, aux=data["aux"], names=data["names"],
        dna_input=args.dna_input,
    )
    os.makedirs(args.out, exist_ok=True)
    report.to_json(os.path.join(args.out, "report.json"))
    atomic_write(os.path.join(args.out, "summary.csv"),
                 lambda tmp: report.summary.to_csv(tmp, index=False))
    if not args.no_html:
        report.to_html(os.path.join(args.out, "report.html"))
    print(report)
    failed = report.failed
    if len(failed):
        print(f"FAILED: {len(failed)} threshold(s):")
        print(failed[["tier", "metric", "method", "value", "threshold"]].to_string(index=False))
        return 1
    print(f"PASSED: every threshold of the protocol. Report in {args.out}")
    return 0
