"""sl.sweep: equal to the direct broadcast solve, one compilation, resumable, sharded."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaws_jax as sl
from scalinglaws_jax._sweep import _scenario_digits

ROOT = Path(__file__).resolve().parents[1]
FLOPS = np.logspace(19, 26, 15)
VOLUMES = np.concatenate([[0.0], np.logspace(9, 15, 6)])


def jittered_law(draws: int, seed: int = 0, scale: float = 0.02) -> sl.Chinchilla:
    """HOFFMANN_2022 with every parameter perturbed per draw: a batched law of ``draws`` laws."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda x: x * (1.0 + scale * rng.standard_normal(draws)), sl.HOFFMANN_2022)


def direct(law, flops=FLOPS, volumes=VOLUMES):
    """Every (draw, budget, volume) solved by broadcasting: shape (draws, budgets, volumes)."""
    batched = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[:, None, None], law)
    return sl.compute_optimal(batched, flops[None, :, None], volumes[None, None, :])


def test_one_law_equals_the_broadcast_solve():
    result = sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, inference_tokens=VOLUMES, chunk_size=8)
    expected = sl.compute_optimal(sl.HOFFMANN_2022, FLOPS[:, None], VOLUMES[None, :])
    assert list(result.fields) == ["N", "D", "loss", "training_flops", "inference_flops", "status"]
    # compiled as one program vs op by op: equal to rounding
    for name in result.fields:
        np.testing.assert_allclose(result[name], np.asarray(getattr(expected, name)), rtol=1e-13, err_msg=name)
    assert result.shape == (15, 7)
    assert result.draws == 0 and result.reduce == "none"
    assert result.info["chunks"] == -(-15 * 7 // 8)  # the last chunk is padded
    np.testing.assert_array_equal(result.axes["flops"], FLOPS)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 105, 1000])
def test_quantiles_over_draws_equal_numpy(chunk_size):
    law = jittered_law(40)
    levels = (0.05, 0.5, 0.95)
    result = sl.sweep(sl.compute_optimal, law, flops=FLOPS, inference_tokens=VOLUMES, quantiles=levels,
                      chunk_size=chunk_size)
    everything = direct(law)
    for name in ("N", "D", "loss"):
        expected = np.moveaxis(np.quantile(np.asarray(getattr(everything, name)), levels, axis=0), 0, -1)
        np.testing.assert_allclose(result[name], expected, rtol=1e-13, err_msg=name)
    np.testing.assert_array_equal(result["status"], np.asarray(everything.status).max(axis=0))
    assert result["N"].shape == (15, 7, 3)
    assert result.info["traces"] == 1


def test_mean_and_every_draw():
    law = jittered_law(12)
    everything = direct(law)
    mean = sl.sweep(sl.compute_optimal, law, reduce="mean", flops=FLOPS, inference_tokens=VOLUMES)
    np.testing.assert_allclose(mean["loss"], np.asarray(everything.loss).mean(axis=0), rtol=1e-14)
    full = sl.sweep(sl.compute_optimal, law, reduce="none", flops=FLOPS, inference_tokens=VOLUMES, chunk_size=10)
    np.testing.assert_allclose(full["N"], np.moveaxis(np.asarray(everything.N), 0, -1), rtol=1e-13)
    assert full["N"].shape == (15, 7, 12)


def test_unsolvable_draws_are_left_out_and_flagged():
    law = jittered_law(20)
    loss = np.array([1.9, 2.2, 1.0])  # 1.0 is below every draw's E: no draw reaches it
    result = sl.sweep(sl.inference_optimal, law, loss=loss, inference_tokens=np.array([0.0, 1e12]),
                      quantiles=(0.5,))
    assert np.all(result["status"][2] == sl.allocate.INFEASIBLE)
    assert np.all(np.isnan(result["N"][2]))
    assert np.all(result["status"][:2] == 0)
    expected = sl.inference_optimal(jax.tree_util.tree_map(lambda x: x[:, None], law), 2.2, 1e12)
    np.testing.assert_allclose(result["N"][1, 1, 0], np.median(np.asarray(expected.N)), rtol=1e-13)


def test_one_compilation_for_many_chunks():
    law = jittered_law(8)
    result = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 301), inference_tokens=VOLUMES,
                      chunk_size=16)
    assert result.info["chunks"] == 132
    assert result.info["traces"] == 1


def test_any_function_of_named_axes_and_pytree_outputs():
    def cost(law, flops, price):
        plan = sl.compute_optimal(law, flops)
        return {"dollars": flops * price, "loss": plan.loss}

    result = sl.sweep(cost, sl.EPOCH_2024, flops=np.array([1e20, 1e22]), price=np.array([1e-18, 2e-18, 3e-18]))
    assert set(result.fields) == {"dollars", "loss"}
    np.testing.assert_allclose(result["dollars"], np.outer([1e20, 1e22], [1e-18, 2e-18, 3e-18]), rtol=1e-15)
    no_law = sl.sweep(lambda x, y: x * y, x=np.arange(1.0, 4.0), y=np.arange(1.0, 3.0))
    np.testing.assert_array_equal(no_law["value"], np.outer(np.arange(1.0, 4.0), np.arange(1.0, 3.0)))


def test_three_axes_and_a_scalar_axis():
    law = sl.HOFFMANN_2022
    flops, volumes, scale = np.logspace(20, 24, 5), np.array([0.0, 1e13]), np.array([1.0, 2.0, 4.0])
    result = sl.sweep(lambda law, flops, inference_tokens, scale: sl.compute_optimal(law, flops * scale,
                                                                                       inference_tokens).N,
                      law, flops=flops, inference_tokens=volumes, scale=scale, chunk_size=4)
    expected = sl.compute_optimal(law, flops[:, None, None] * scale, volumes[None, :, None]).N
    np.testing.assert_allclose(result["value"], np.asarray(expected), rtol=1e-13)
    single = sl.sweep(sl.compute_optimal, law, flops=1e21)
    assert single["N"].shape == (1,)


def lifetime_cost(law, N, loss, inference_tokens):
    """Lifetime FLOPs of an N-parameter model trained until it reaches ``loss`` (NaN if it cannot)."""
    data_term = loss - law.E - law.A * N ** -law.alpha
    D = jnp.where(data_term > 0, (law.B / data_term) ** (1.0 / law.beta), jnp.nan)
    return {"lifetime_flops": 6.0 * N * D + 2.0 * N * inference_tokens, "D": D}


def test_best_point_along_an_axis_equals_numpy_argmin():
    law = jittered_law(16)
    N = np.geomspace(1e7, 1e12, 501)
    axes = dict(loss=np.array([1.95, 2.1, 2.4]), N=N, inference_tokens=np.array([0.0, 1e12, 1e14]))
    full = sl.sweep(lifetime_cost, law, reduce="none", **axes)  # (loss, N, tokens, draws)
    best = sl.sweep(lifetime_cost, law, reduce="none", minimize="lifetime_flops", over="N", chunk_size=500, **axes)
    assert list(best.axes) == ["loss", "inference_tokens"]
    assert list(best.fields) == ["D", "lifetime_flops", "best_N"]
    assert best["best_N"].shape == (3, 3, 16)
    cost = np.where(np.isnan(full["lifetime_flops"]), np.inf, full["lifetime_flops"])
    index = np.argmin(cost, axis=1)
    np.testing.assert_array_equal(best["best_N"], N[index])
    np.testing.assert_array_equal(best["lifetime_flops"], np.take_along_axis(full["lifetime_flops"],
                                                                            index[:, None], axis=1)[:, 0])
    # the grid optimum is within a grid step of the solver's optimum
    exact = sl.inference_optimal(jax.tree_util.tree_map(lambda x: x[None, None, :], law),
                                 axes["loss"][:, None, None], axes["inference_tokens"][None, :, None])
    step = np.log(N[1] / N[0])
    assert np.all(np.abs(np.log(best["best_N"] / np.asarray(exact.N))) <= step)
    largest = sl.sweep(lifetime_cost, law, maximize="D", over="N", quantiles=(0.5,), **axes)
    np.testing.assert_allclose(largest["D"][..., 0], np.median(np.nanmax(full["D"], axis=1), axis=-1), rtol=1e-13)
    assert best.info["traces"] == 1


def test_best_point_is_resumable_and_device_independent(tmp_path):
    law = jittered_law(8)
    axes = dict(loss=np.linspace(1.95, 2.5, 11), N=np.geomspace(1e8, 1e12, 50), inference_tokens=VOLUMES)
    kwargs = dict(minimize="lifetime_flops", over="N", chunk_size=120, **axes)
    first = sl.sweep(lifetime_cost, law, out=tmp_path / "s", **kwargs)
    assert first.info["chunk_size"] == 100 and first.info["chunks"] == 77 // 2 + 1
    sorted((tmp_path / "s").glob("chunk-*"))[5].unlink()
    again = sl.sweep(lifetime_cost, law, out=tmp_path / "s", **kwargs)
    assert again.info["resumed_chunks"] == first.info["chunks"] - 1
    for name in first.fields:
        np.testing.assert_array_equal(again[name], first[name])


@pytest.mark.parametrize("kwargs, message", [
    (dict(minimize="lifetime_flops"), "minimize= needs over="),
    (dict(over="N"), "over='N' needs minimize= or maximize="),
    (dict(minimize="lifetime_flops", maximize="D", over="N"), "not both"),
    (dict(minimize="lifetime_flops", over="flops"), "over='flops' is not one of the axes"),
    (dict(minimize="cost", over="N"), "minimize='cost' is not an output of fn; its outputs are"),
])
def test_bad_best_point_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sl.sweep(lifetime_cost, sl.HOFFMANN_2022, loss=[2.0], N=[1e9, 1e10], inference_tokens=[0.0], **kwargs)


# lengths traced, so the examples share a few compilations (one per number of axes)
_digits = jax.jit(_scenario_digits)


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(1, 40), min_size=1, max_size=4), data=st.data())
def test_scenario_digits_match_unravel_index(lengths, data):
    total = int(np.prod(lengths))
    start = data.draw(st.integers(0, total - 1))
    local = np.arange(64, dtype=np.int32)
    start_digits = np.array(np.unravel_index(start, lengths), np.int32)
    digits, exists = _digits(start_digits, local, tuple(np.int32(n) for n in lengths))
    flat = start + local
    expected_exists = flat < total
    np.testing.assert_array_equal(np.asarray(exists), expected_exists)
    expected = np.unravel_index(np.minimum(flat, total - 1), lengths)
    for axis in range(len(lengths)):
        got = np.asarray(digits[axis])
        np.testing.assert_array_equal(got[expected_exists], expected[axis][expected_exists])
        assert np.all((0 <= got) & (got < lengths[axis]))


def test_float32_tracks_float64():
    law = jittered_law(32)
    kwargs = dict(flops=FLOPS, inference_tokens=VOLUMES, chunk_size=64)
    wide = sl.sweep(sl.compute_optimal, law, **kwargs)
    narrow = sl.sweep(sl.compute_optimal, law, dtype="float32", **kwargs)
    assert narrow["N"].dtype == np.float32
    for name in ("N", "D", "loss"):
        np.testing.assert_allclose(narrow[name], wide[name], rtol=1e-4, err_msg=name)
    np.testing.assert_array_equal(narrow["status"], wide["status"])


def test_progress_bar_on_request(capsys):
    sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, chunk_size=4, progress=True)
    assert "chunk" in capsys.readouterr().err
    sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, chunk_size=4, progress=False)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------------
# on disk


def test_resumes_and_skips_finished_chunks(tmp_path):
    law = jittered_law(16)
    kwargs = dict(flops=FLOPS, inference_tokens=VOLUMES, chunk_size=8, out=tmp_path / "sweep")
    first = sl.sweep(sl.compute_optimal, law, **kwargs)
    chunks = sorted((tmp_path / "sweep").glob("chunk-*.npz"))
    assert len(chunks) == first.info["chunks"] == 14
    manifest = json.loads((tmp_path / "sweep" / "manifest.json").read_text())
    assert manifest["spec"]["axes"][0]["name"] == "flops" and manifest["spec"]["axes"][0]["size"] == 15
    for path in chunks[3:9]:
        path.unlink()
    again = sl.sweep(sl.compute_optimal, law, **kwargs)
    assert again.info["resumed_chunks"] == 8
    for name in first.fields:
        np.testing.assert_array_equal(again[name], first[name])
    in_memory = sl.sweep(sl.compute_optimal, law, flops=FLOPS, inference_tokens=VOLUMES, chunk_size=8)
    for name in first.fields:
        np.testing.assert_array_equal(in_memory[name], first[name])


def test_refuses_a_directory_holding_something_else(tmp_path):
    out = tmp_path / "sweep"
    sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, out=out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    with pytest.raises(ValueError, match="holds a different sweep: axis flops differs"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS[:-1], out=out)
    with pytest.raises(ValueError, match="the law differs .same family and draws, other values"):
        sl.sweep(sl.compute_optimal, sl.EPOCH_2024, flops=FLOPS, out=out)
    with pytest.raises(ValueError, match="the law differs .3 draws here, a single law in .*; reduce differs"):
        sl.sweep(sl.compute_optimal, jittered_law(3), flops=FLOPS, out=out, reduce="mean")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and holds no sweep manifest"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, out=other)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="is a file"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, flops=FLOPS, out=other / "notes.txt")


KILLED_SWEEP = """
import os, signal, sys, numpy as np, jax
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl

if len(sys.argv) > 3:  # kill -9 this process inside the write of chunk number argv[3]
    savez, written = np.savez, []

    def dying_savez(file, **arrays):
        written.append(1)
        if len(written) == int(sys.argv[3]):
            file.write(b"PK half a chunk")
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        savez(file, **arrays)

    np.savez = dying_savez

def slow(law, flops, inference_tokens):
    return sl.compute_optimal(law, flops, inference_tokens)

rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(64)), sl.HOFFMANN_2022)
flops = np.logspace(19, 26, 200)
volumes = np.concatenate([[0.0], np.logspace(9, 15, 49)])
result = sl.sweep(slow, law, flops=flops, inference_tokens=volumes, chunk_size=int(sys.argv[2]),
                  out=sys.argv[1], progress=False)
np.savez(sys.argv[1] + ".result.npz", **result.fields)
"""


def test_a_killed_sweep_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "sweep_script.py"
    script.write_text(KILLED_SWEEP)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    died = subprocess.run([sys.executable, str(script), str(killed), "25", "20"], env=env, timeout=1800)
    assert died.returncode == -signal.SIGKILL
    done = len(list(killed.glob("chunk-*.npz")))
    assert done == 19, f"kill the sweep part-way: {done} of 400 chunks were written"
    assert list(killed.glob(".*.tmp")), "the killed sweep leaves the chunk it was writing half done"
    subprocess.run([sys.executable, str(script), str(killed), "25"], env=env, check=True)
    subprocess.run([sys.executable, str(script), str(clean), "25"], env=env, check=True)
    resumed = np.load(str(killed) + ".result.npz")
    uninterrupted = np.load(str(clean) + ".result.npz")
    assert set(resumed.files) == set(uninterrupted.files)
    for name in uninterrupted.files:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)
    assert not list(killed.glob(".*.tmp")), "the resumed sweep removes the killed one's partial files"


# ----------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("axes, message", [
    ({}, "at least one named axis"),
    ({"flops": []}, "axis flops is empty"),
    ({"flops": [1e20, np.nan]}, r"flops\[1\]=nan"),
    ({"flops": [1e20, np.inf]}, r"flops\[1\]=inf"),
    ({"flops": np.ones((2, 2))}, "one-dimensional"),
    ({"flops": ["a"]}, "must be numbers"),
])
def test_bad_axes(axes, message):
    with pytest.raises(ValueError, match=message):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, **axes)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduce must be one of"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, reduce="median", flops=FLOPS)
    with pytest.raises(ValueError, match=r"quantiles must lie in \[0, 1\], got 1.5"):
        sl.sweep(sl.compute_optimal, jittered_law(3), quantiles=(0.5, 1.5), flops=FLOPS)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, chunk_size=0, flops=FLOPS)
    with pytest.raises(ValueError, match="dtype must be"):
        sl.sweep(sl.compute_optimal, sl.HOFFMANN_2022, dtype="float16", flops=FLOPS)
    with pytest.raises(TypeError, match="fn must be callable"):
        sl.sweep("compute_optimal", sl.HOFFMANN_2022, flops=FLOPS)
    mixed = sl.Chinchilla(E=np.ones(3), A=np.ones(4), B=1.0, alpha=0.3, beta=0.3)
    with pytest.raises(ValueError, match="law leaves must all be scalars"):
        sl.sweep(sl.compute_optimal, mixed, flops=FLOPS)
    with pytest.raises(ValueError, match="one number per scenario"):
        sl.sweep(lambda law, flops: jnp.stack([flops, flops]), sl.HOFFMANN_2022, flops=FLOPS)


def test_a_chunk_too_large_for_memory_is_refused_with_the_estimate():
    law = jittered_law(10_000)
    with pytest.raises(ValueError, match=r"chunk_size too large: one chunk needs about [0-9.]+ GiB"):
        sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 10**6), inference_tokens=VOLUMES,
                 chunk_size=10**6)


# ----------------------------------------------------------------------------------
# devices and processes


DEVICES = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
import numpy as np, jax
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl
rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(64)), sl.HOFFMANN_2022)
assert jax.local_device_count() == 8
for n in (1, 2, 4, 8):
    r = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 37), inference_tokens=np.logspace(9, 15, 13),
                 chunk_size=50, devices=jax.local_devices()[:n])
    assert r.info["devices"] == n and r.info["traces"] == 1, r.info
    np.savez(f"{sys.argv[1]}/devices{n}.npz", **r.fields)
"""


def test_same_result_on_1_2_4_8_devices(tmp_path):
    script = tmp_path / "devices.py"
    script.write_text(DEVICES)
    subprocess.run([sys.executable, str(script), str(tmp_path)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                   check=True)
    one = np.load(tmp_path / "devices1.npz")
    for n in (2, 4, 8):
        many = np.load(tmp_path / f"devices{n}.npz")
        for name in one.files:
            np.testing.assert_array_equal(many[name], one[name], err_msg=f"{name} on {n} devices")


PROCESS = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import numpy as np, jax
jax.config.update("jax_enable_x64", True)
process, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process)
assert jax.process_count() == 2 and jax.device_count() == 4
import scalinglaws_jax as sl
rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(64)), sl.HOFFMANN_2022)
r = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 37), inference_tokens=np.logspace(9, 15, 13),
             chunk_size=50, out=out, progress=False)
assert r.info["processes"] == 2
np.savez(f"{out}.process{process}.npz", **r.fields)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_on_loopback_share_the_chunks(tmp_path):
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = str(_free_port())
    processes = [subprocess.Popen([sys.executable, str(script), str(i), port, str(out)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i in range(2)]
    for process in processes:
        output, _ = process.communicate(timeout=1800)
        assert process.returncode == 0, output.decode()[-2000:]
    law = jittered_law(64)
    single = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 37),
                      inference_tokens=np.logspace(9, 15, 13), chunk_size=50)
    for i in range(2):
        shared = np.load(f"{out}.process{i}.npz")
        for name in single.fields:
            np.testing.assert_array_equal(shared[name], single[name], err_msg=f"{name} in process {i}")


SHARED_DIRECTORY = """
import sys, time
from pathlib import Path
import numpy as np, jax
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl

out, role = Path(sys.argv[1]), sys.argv[2]
if role == "paused":  # stop inside the write of the third chunk, its temporary file half done
    savez, written = np.savez, []

    def pausing_savez(file, **arrays):
        savez(file, **arrays)
        written.append(1)
        if len(written) == 3:
            (out.parent / "paused").touch()
            while not (out.parent / "resume").exists():
                time.sleep(0.01)

    np.savez = pausing_savez
rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(16)), sl.HOFFMANN_2022)
result = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 40), inference_tokens=np.array([0.0, 1e12]),
                  chunk_size=4, out=str(out), progress=False)
np.savez(f"{out}.{role}.npz", **result.fields)
"""


def test_two_independent_processes_writing_one_directory(tmp_path):
    script = tmp_path / "shared.py"
    script.write_text(SHARED_DIRECTORY)
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    paused = subprocess.Popen([sys.executable, str(script), str(out), "paused"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 1800  # a guard against hanging only
    while not (tmp_path / "paused").exists() and paused.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert paused.poll() is None, paused.communicate()[0].decode()[-2000:]
    assert list(out.glob(".chunk-*.tmp")), "the paused writer holds a temporary file"
    other = subprocess.run([sys.executable, str(script), str(out), "other"], env=env, capture_output=True,
                           timeout=1800)
    assert other.returncode == 0, other.stderr.decode()[-2000:]
    (tmp_path / "resume").touch()
    output, _ = paused.communicate(timeout=1800)
    assert paused.returncode == 0, output.decode()[-2000:]
    law = jittered_law(16)
    single = sl.sweep(sl.compute_optimal, law, flops=np.logspace(19, 26, 40),
                      inference_tokens=np.array([0.0, 1e12]), chunk_size=4)
    for role in ("paused", "other"):
        shared = np.load(f"{out}.{role}.npz")
        for name in single.fields:
            np.testing.assert_array_equal(shared[name], single[name], err_msg=f"{name} in the {role} process")
    assert sorted(p.name for p in out.iterdir()) == [f"chunk-{c:08d}.npz" for c in range(20)] + ["manifest.json"]
