"""``keras-iml explain MODEL DATA --method M --out attributions.npz``."""

import keras

from keras_iml import io
from keras_iml.explain import explain


def add_parser(subparsers):
    p = subparsers.add_parser("explain", help="attributions of a .keras model on sequences")
    p.add_argument("model", help="a .keras model file")
    p.add_argument("data", help="FASTA, .npz (x) or BED (with --genome)")
    p.add_argument("--method", default="saliency", help="registered method name")
    p.add_argument("--target", type=int, default=None, help="output column to explain")
    p.add_argument("--genome", default=None, help="genome FASTA for a BED file")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="attributions.npz", help="output .npz file")
    p.set_defaults(func=run)


def run(args):
    model = io.load_model(args.model)
    data = io.load_sequences(args.data, genome=args.genome)
    attr = explain(model, data["x"], args.method, target=args.target,
                   batch_size=args.batch_size, seed=args.seed, verbose=1)
    attr.to_npz(args.out)
    print(f"Wrote {len(attr)} attributions ({attr.method}) to {args.out}")
    return 0
