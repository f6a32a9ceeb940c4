"""``keras-iml demo [--out DIR] [--quick] [--seed S]``: the embedded ground-truth benchmark."""



def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="train on the embedded TF-binding benchmark, explain, validate, write a report",
        description="Generates a TF-binding benchmark with known JASPAR motifs and decoys, "
                    "trains a small seeded ensemble, explains held-out sequences with every "
                    "registered method, validates the explanations against the planted motifs "
                    "and writes DIR/report.html, DIR/report.json and DIR/summary.csv.",
    )
    p.add_argument("--out", default="demo_out", help="output directory (default: demo_out)")
    p.add_argument("--quick", action="store_true",
                   help="a small run of about a minute (single-motif grammar, quick protocol)")
    p.add_argument("--seed", type=int, default=0, help="seed of the whole run (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args):
    from keras_iml import io

    io.check_writable(args.out, directory=True)  # before any work
    from keras_iml.demo import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, verbose=0 if args.quiet else 1)
    return 0
