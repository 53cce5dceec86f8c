"""sl.sweep on disk: a directory resumes only the computation that wrote it (recognised by
its jaxpr and constants, in any process and on any number of devices), a damaged or
misplaced chunk is named and computed again, and files get the permissions open() gives."""

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax._files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
FLOPS = np.logspace(19, 26, 15)
VOLUMES = np.array([0.0, 1e12, 1e14])


def jittered_law(draws: int, seed: int = 0) -> sl.Chinchilla:
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(draws)), sl.HOFFMANN_2022)


def scaled_cost(scale):
    """A closure over ``scale``: every call returns a function of the same name."""

    def cost(law, flops, inference_tokens):
        return sl.compute_optimal(law, flops * scale, inference_tokens).N

    return cost


def sweep_to(out, fn=sl.compute_optimal, law=sl.HOFFMANN_2022, **kwargs):
    kwargs = {"flops": FLOPS, "inference_tokens": VOLUMES, "chunk_size": 8, **kwargs}
    return sl.sweep(fn, law, out=out, progress=False, **kwargs)


# ----------------------------------------------------------------------------------
# the computation, not its name


def test_another_closure_constant_is_refused(tmp_path):
    out = tmp_path / "sweep"
    first = sweep_to(out, scaled_cost(1.0))
    with pytest.raises(ValueError, match=r"the function differs from the one that wrote .*its computation changed"):
        sweep_to(out, scaled_cost(2.0))
    again = sweep_to(out, scaled_cost(1.0))  # another closure object, the same computation
    assert again.info["resumed_chunks"] == again.info["chunks"]
    np.testing.assert_array_equal(again["value"], first["value"])


def test_another_lambda_and_another_array_constant_are_refused(tmp_path):
    out = tmp_path / "sweep"
    sweep_to(out, lambda law, flops, inference_tokens: sl.compute_optimal(law, flops, inference_tokens).N)
    with pytest.raises(ValueError, match="the function differs"):
        sweep_to(out, lambda law, flops, inference_tokens: sl.compute_optimal(law, flops, inference_tokens).D)

    def priced(prices):
        def cost(law, flops, inference_tokens):
            return sl.compute_optimal(law, flops, inference_tokens).training_flops * prices[1]

        return cost

    other = tmp_path / "priced"
    sweep_to(other, priced(jnp.asarray([1e-18, 2e-18])))
    with pytest.raises(ValueError, match="the function differs"):  # same shapes, other values
        sweep_to(other, priced(jnp.asarray([1e-18, 3e-18])))
    assert sweep_to(other, priced(jnp.asarray([1e-18, 2e-18]))).info["resumed_chunks"] == 6


def test_a_constant_inside_a_jitted_helper_is_part_of_the_identity(tmp_path):
    def with_helper(prices):
        @jax.jit
        def dollars(training_flops):  # keeps its constant in its own jaxpr
            return training_flops * prices[1]

        def cost(law, flops, inference_tokens):
            return dollars(sl.compute_optimal(law, flops, inference_tokens).training_flops)

        return cost

    out = tmp_path / "sweep"
    sweep_to(out, with_helper(jnp.asarray([1e-18, 2e-18])))
    with pytest.raises(ValueError, match="the function differs"):
        sweep_to(out, with_helper(jnp.asarray([1e-18, 3e-18])))


def test_a_killed_sweep_is_not_finished_by_another_function(tmp_path):
    out = tmp_path / "sweep"
    first = sweep_to(out, scaled_cost(1.0))
    for path in sorted(out.glob("chunk-*.npz"))[2:]:
        path.unlink()
    with pytest.raises(ValueError, match="the function differs"):
        sweep_to(out, scaled_cost(3.0))
    assert sorted(p.name for p in out.glob("chunk-*.npz")) == ["chunk-00000000.npz", "chunk-00000001.npz"]
    np.testing.assert_array_equal(sweep_to(out, scaled_cost(1.0))["value"], first["value"])


@pytest.mark.parametrize("change, message", [
    (dict(flops=FLOPS[:-1]), r"axis flops differs \(14 values from 1e\+19 to 3.16e\+25 here, 15 values from "
                             r"1e\+19 to 1e\+26 in"),
    (dict(flops=FLOPS * (1 + 1e-9)), r"axis flops differs \(other values; both are 15 values from 1e\+19 to 1e\+26\)"),
    (dict(inference_tokens=None, price=VOLUMES), "the axes differ .flops, price here; flops, inference_tokens in"),
    (dict(law=sl.EPOCH_2024), "the law differs .same family and draws, other values"),
    (dict(law=jittered_law(3)), "the law differs .3 draws here, a single law in"),
    (dict(chunk_size=16), r"chunk_size differs \(16 here, 8 in .*; leave it out to resume\)"),
    (dict(dtype="float32"), "dtype differs .'float32' here, 'float64' in"),
])
def test_a_different_setting_is_refused_naming_it(tmp_path, change, message):
    out = tmp_path / "sweep"
    sweep_to(out, lambda law, **axes: sum(axes.values()) * law.E)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    kwargs = {"flops": FLOPS, "inference_tokens": VOLUMES, "chunk_size": 8, **change}
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    law = kwargs.pop("law", sl.HOFFMANN_2022)
    with pytest.raises(ValueError, match=f"holds a different sweep: {message}"):
        sl.sweep(lambda law, **axes: sum(axes.values()) * law.E, law, out=out, **kwargs)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_without_chunk_size_a_sweep_resumes_with_the_one_it_was_written_with(tmp_path):
    out = tmp_path / "sweep"
    first = sweep_to(out, chunk_size=6)
    (out / "chunk-00000002.npz").unlink()
    again = sweep_to(out, chunk_size=None)
    assert again.info["chunk_size"] == 6 and again.info["resumed_chunks"] == first.info["chunks"] - 1


def test_reduction_settings_are_part_of_the_identity(tmp_path):
    out = tmp_path / "sweep"
    law = jittered_law(6)
    sweep_to(out, law=law, quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match=r"quantiles differs \(\[0.1, 0.5\] here, \[0.1, 0.9\] in"):
        sweep_to(out, law=law, quantiles=(0.1, 0.5))
    with pytest.raises(ValueError, match="reduce differs .'mean' here, 'quantiles' in"):
        sweep_to(out, law=law, reduce="mean")


def test_unsorted_quantiles_come_back_in_the_order_given():
    law = jittered_law(30)
    result = sl.sweep(sl.compute_optimal, law, flops=FLOPS, quantiles=(0.9, 0.1, 0.5))
    assert result.quantiles == (0.9, 0.1, 0.5)
    everything = sl.compute_optimal(jax.tree_util.tree_map(lambda x: x[:, None], law), FLOPS[None, :])
    expected = np.moveaxis(np.quantile(np.asarray(everything.N), (0.9, 0.1, 0.5), axis=0), 0, -1)
    np.testing.assert_allclose(result["N"], expected, rtol=1e-13)


RESUME_IN_A_FRESH_PROCESS = """
import functools, json, sys
import numpy as np, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl

PRICES = jnp.asarray([1e-18, 2.5e-18, 4e-18])


def priced(law, flops, inference_tokens, tier):
    plan = sl.compute_optimal(law, flops, inference_tokens)
    return {"N": plan.N, "dollars": plan.training_flops * PRICES[tier]}


def with_constant(table):
    def cost(law, flops, inference_tokens):
        return sl.compute_optimal(law, flops * table[0], inference_tokens).loss + table[1]
    return cost


rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(16)), sl.HOFFMANN_2022)
functions = {"solver": sl.compute_optimal, "partial": functools.partial(priced, tier=1),
             "closure": with_constant(jnp.asarray([2.0, 0.25]))}
info = {}
for name, fn in functions.items():
    result = sl.sweep(fn, law, flops=np.logspace(19, 26, 13), inference_tokens=np.array([0.0, 1e13]), chunk_size=4,
                      out=f"{sys.argv[1]}/{name}", progress=False)
    np.savez(f"{sys.argv[1]}/{name}.{sys.argv[2]}.npz", **result.fields)
    info[name] = result.info["resumed_chunks"]
print(json.dumps(info))
"""


def test_a_fresh_process_resumes_a_function_a_partial_and_a_closure(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_IN_A_FRESH_PROCESS)

    def run(tag, seed):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, str(script), str(tmp_path), tag], env=env, capture_output=True,
                              text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run("first", "1") == {"solver": 0, "partial": 0, "closure": 0}
    for name in ("solver", "partial", "closure"):
        for path in sorted((tmp_path / name).glob("chunk-*.npz"))[::2]:
            path.unlink()
    assert run("again", "2") == {"solver": 3, "partial": 3, "closure": 3}  # 7 chunks, 4 deleted
    for name in ("solver", "partial", "closure"):
        first, again = np.load(tmp_path / f"{name}.first.npz"), np.load(tmp_path / f"{name}.again.npz")
        for field in first.files:
            np.testing.assert_array_equal(again[field], first[field], err_msg=f"{name}: {field}")


RESUME_ON_OTHER_DEVICES = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
import numpy as np, jax
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl
rng = np.random.default_rng(0)
law = jax.tree_util.tree_map(lambda x: x * (1.0 + 0.02 * rng.standard_normal(32)), sl.HOFFMANN_2022)
axes = dict(flops=np.logspace(19, 26, 37), inference_tokens=np.logspace(9, 15, 13))
out = sys.argv[1]
full = sl.sweep(sl.compute_optimal, law, chunk_size=50, devices=jax.local_devices()[:1], **axes)
written = sl.sweep(sl.compute_optimal, law, chunk_size=50, out=out, devices=jax.local_devices(), **axes)
assert written.info["chunk_size"] == 50 and written.info["chunks"] == 10, written.info
for n, kept in ((3, 4), (1, 2), (8, 7)):
    for path in sorted(os.listdir(out)):
        if path.startswith("chunk-") and int(path[6:14]) >= kept:
            os.unlink(os.path.join(out, path))
    again = sl.sweep(sl.compute_optimal, law, chunk_size=50, out=out, devices=jax.local_devices()[:n], **axes)
    assert again.info["devices"] == n and again.info["resumed_chunks"] == kept, again.info
    for name in full.fields:
        np.testing.assert_array_equal(again[name], full[name], err_msg=f"{name} resumed on {n} devices")
print("ok")
"""


def test_a_sweep_resumes_on_another_number_of_devices(tmp_path):
    script = tmp_path / "devices.py"
    script.write_text(RESUME_ON_OTHER_DEVICES)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "sweep")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


# ----------------------------------------------------------------------------------
# damaged chunks


def damage_zero_bytes(path, _):
    path.write_bytes(b"")


def damage_truncate(path, _):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_flip_a_byte(path, _):
    """One bit of N's values flipped, as a disk error would."""
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("N.npy")
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26: member.header_offset + 30])
    npy = member.header_offset + 30 + name_length + extra_length  # the stored .npy file: magic, header, values
    (header_length,) = struct.unpack("<H", data[npy + 8: npy + 10])
    data[npy + 10 + header_length + 3] ^= 0x40
    path.write_bytes(bytes(data))


def damage_rewrite_the_values(path, _):
    """A well-formed archive whose values are not the ones its record describes."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["N"] = arrays["N"] * 2
    np.savez(path, **arrays)


def damage_copy_another_chunk(path, directory):
    shutil.copyfile(directory / "chunk-00000001.npz", path)


@pytest.mark.parametrize("damage, reason", [
    (damage_zero_bytes, "unreadable"),
    (damage_truncate, "unreadable"),
    (damage_flip_a_byte, "unreadable .BadZipFile: Bad CRC-32"),
    (damage_rewrite_the_values, "has contents that do not match their digest"),
    (damage_copy_another_chunk, "holds chunk 1 of this sweep, not chunk 4"),
])
def test_a_damaged_chunk_is_named_and_computed_again(tmp_path, damage, reason):
    out = tmp_path / "sweep"
    law = jittered_law(8)
    first = sweep_to(out, law=law)
    victim = out / "chunk-00000004.npz"
    damage(victim, out)
    with pytest.warns(RuntimeWarning, match=f"{victim}.*({reason}).*computing it again"):
        again = sweep_to(out, law=law)
    assert again.info["resumed_chunks"] == first.info["chunks"] - 1
    for name in first.fields:
        np.testing.assert_array_equal(again[name], first[name], err_msg=name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        third = sweep_to(out, law=law)  # the chunk was written again, whole
    assert third.info["resumed_chunks"] == first.info["chunks"]


def test_a_chunk_of_another_sweep_is_computed_again(tmp_path):
    sweep_to(tmp_path / "a", law=sl.HOFFMANN_2022)
    first = sweep_to(tmp_path / "b", law=sl.EPOCH_2024)
    shutil.copyfile(tmp_path / "a" / "chunk-00000002.npz", tmp_path / "b" / "chunk-00000002.npz")
    with pytest.warns(RuntimeWarning, match="chunk-00000002.npz was written by another sweep"):
        again = sweep_to(tmp_path / "b", law=sl.EPOCH_2024)
    for name in first.fields:
        np.testing.assert_array_equal(again[name], first[name], err_msg=name)


def test_a_damaged_manifest_is_named(tmp_path):
    out = tmp_path / "sweep"
    sweep_to(out)
    (out / "manifest.json").write_text('{"format": ')
    with pytest.raises(ValueError, match=r"manifest.json is not a sweep manifest"):
        sweep_to(out)


def test_another_writers_manifest_in_flight_is_not_foreign_content(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / ".manifest.json.otherhost.12345.0a1b2c3d.tmp").write_bytes(b'{"form')
    result = sweep_to(out)
    assert result.info["resumed_chunks"] == 0 and (out / "manifest.json").exists()


# ----------------------------------------------------------------------------------
# permissions


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_get_the_mode_open_gives(tmp_path, umask, mask):
    umask(mask)
    atomic_write(tmp_path / "new.bin", lambda handle: handle.write(b"x"))
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o666 & ~mask
    sweep_to(tmp_path / "sweep")
    for path in (tmp_path / "sweep").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "kept.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write(path, lambda handle: handle.write(b"new"))
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_exclusive_write_does_not_replace(tmp_path):
    path = tmp_path / "first.json"
    atomic_write(path, lambda handle: handle.write(b"first"), exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(path, lambda handle: handle.write(b"second"), exclusive=True)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.json"]
