"""Helpers shared by the fixture generators: one .npz per case."""

from pathlib import Path

import numpy as np

CASES = Path(__file__).resolve().parent / "cases"


def save(name, *, kind, oracle, behaviour, tolerance, why, expected, divergence=None, **inputs):
    CASES.mkdir(exist_ok=True)
    extra = {"divergence": np.array(divergence)} if divergence else {}
    np.savez_compressed(CASES / f"{name}.npz", kind=np.array(kind), oracle=np.array(oracle),
                        behaviour=np.array(behaviour), tolerance=np.array(float(tolerance)), why=np.array(why),
                        expected=np.asarray(expected), **extra, **{k: np.asarray(v) for k, v in inputs.items()})
