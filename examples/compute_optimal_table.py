"""The compute-optimal table of two published laws next to Hoffmann et al.'s Table 3.

``sl.budget_table`` gives the compute-optimal model size N*, tokens D*, tokens per
parameter and loss for 1e19 ... 1e25 FLOPs, here for ``sl.EPOCH_2024`` (Besiroglu et al.'s
replication) and ``sl.HOFFMANN_2022`` (Hoffmann et al.'s approach 3). Hoffmann et al.'s
Table 3 was projected with their approach 1, whose sizes grow faster with compute: at
Gopher's 5.76e23 FLOPs it gives 67B parameters where approach 3 gives 40B. The second
table sets the two laws against Table 3 at its own budgets. The script also writes the
figure ``sl.plot.optimal_allocation`` draws for ``sl.EPOCH_2024``: N* and D* against
compute, the rule of 20 tokens per parameter and Table 3.

Run: python examples/compute_optimal_table.py [--out compute_optimal_table.png]

``--out`` is the PNG to write, by default compute_optimal_table.png in the current directory.
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # headless: write a file, open no window

import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax import plot  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="compute_optimal_table.png", help="PNG to write (default: %(default)s)")
args = parser.parse_args()

laws = {"Epoch AI 2024": sl.EPOCH_2024, "Hoffmann 2022, approach 3": sl.HOFFMANN_2022}
budgets = np.array(sl.DEFAULT_BUDGETS)
tables = {name: sl.budget_table(law, budgets) for name, law in laws.items()}

print("Compute-optimal plans: N* (parameters), D* (tokens), loss (nats per token)\n")
print((" " * 8 + "".join(f" | {name:<35}" for name in laws)).rstrip())
print(f"{'FLOPs':>8}" + f" | {'N*':>9} {'D*':>9} {'D*/N*':>7} {'loss':>7}" * len(laws))
for i, flops in enumerate(budgets):
    print(f"{flops:8.0e}" + "".join(
        f" | {t['N'][i]:9.3g} {t['D'][i]:9.3g} {t['tokens_per_param'][i]:7.1f} {t['loss'][i]:7.4f}"
        for t in tables.values()))

table_3 = np.array(plot.HOFFMANN_2022_TABLE_3)
at_table_3 = {name: sl.budget_table(law, table_3[:, 1]) for name, law in laws.items()}
print("\nHoffmann et al. 2022, Table 3 (approach 1 projections) and the laws at its budgets\n")
print((" " * 8 + "".join(f" | {name:<19}" for name in ("Table 3", *laws))).rstrip())
print(f"{'FLOPs':>8}" + f" | {'N':>9} {'D':>9}" + f" | {'N*':>9} {'D*':>9}" * len(laws))
for i, (N, flops, D) in enumerate(table_3):
    print(f"{flops:8.3g} | {N:9.3g} {D:9.3g}" + "".join(f" | {t['N'][i]:9.3g} {t['D'][i]:9.3g}"
                                                         for t in at_table_3.values()))

figure = plot.optimal_allocation(sl.EPOCH_2024)
figure.savefig(args.out, dpi=150)
print(f"\nwrote {args.out}")
