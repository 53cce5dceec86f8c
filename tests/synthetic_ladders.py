"""Synthetic IsoFLOP-like ladders for the form-error and backtest tests: runs of a known law."""

import numpy as np

import scalinglaws_jax as sl

LAW = sl.EPOCH_2024
"""The law the ladders' design is planned with (and the Chinchilla ladders follow)."""


def ladder(loss_fn, seed, sd=0.005):
    """An IsoFLOP-like ladder: 7 budgets from 1e18 to 1e21 FLOPs, 7 sizes each from 1/4 to 4
    times the compute-optimal N of EPOCH_2024 (jittered by up to 5%), D = C / (6 N), and
    log-normal noise of sd ``sd`` on the loss of ``loss_fn(N, D)``."""
    rng = np.random.default_rng(seed)
    budgets = np.geomspace(1e18, 1e21, 7)
    optimal = np.asarray(sl.compute_optimal(LAW, budgets).N)
    N = (optimal[:, None] * np.geomspace(0.25, 4.0, 7)[None, :] * np.exp(rng.uniform(-0.05, 0.05, (7, 7)))).ravel()
    D = np.repeat(budgets, 7) / (6 * N)
    return sl.Runs(N=N, D=D, loss=loss_fn(N, D) * np.exp(sd * rng.standard_normal(N.size)))


def chinchilla_law(N, D):
    return np.asarray(LAW.loss(N, D))


def kaplan_law(N, D):
    """Kaplan et al.'s joint law: another form than the Chinchilla law fitted."""
    return np.asarray(sl.KAPLAN_2020.loss(N, D))
