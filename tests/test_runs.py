"""Runs: validation, 6ND derivation, selection, and loading from tables and CSV files
(scalinglaws_jax.fit.runs)."""

import math
import re
import warnings

import numpy as np
import pytest

from scalinglaws_jax.fit.runs import Runs

N = [1e8, 4e8, 1e9]
D = [2e9, 8e9, 2e10]
LOSS = [3.1, 2.8, 2.6]
FLOPS = [6 * n * d for n, d in zip(N, D)]


def make(**overrides):
    kwargs = dict(N=N, D=D, loss=LOSS)
    kwargs.update(overrides)
    return Runs(**{name: value for name, value in kwargs.items() if value is not None})


def with_value(values, i, bad):
    values = list(values)
    values[i] = bad
    return values


# --- construction and validation -------------------------------------------------------


def test_arrays_are_1d_float64_and_read_only():
    runs = make(N=[100_000_000, 400_000_000, 1_000_000_000])  # ints in, float64 out
    for name in ("N", "D", "loss", "flops", "weight"):
        array = getattr(runs, name)
        assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.shape == (3,)
        with pytest.raises(ValueError):
            array[0] = 1.0
    assert runs.group is None
    assert len(runs) == 3
    np.testing.assert_array_equal(runs.weight, 1.0)


def test_inputs_are_copied():
    n = np.array(N)
    runs = make(N=n)
    n[0] = -1.0
    assert runs.N[0] == N[0]


def test_flops_derived_from_D():
    runs = make()
    np.testing.assert_allclose(runs.flops, 6 * np.array(N) * np.array(D), rtol=1e-15)


def test_D_derived_from_flops():
    runs = make(D=None, flops=FLOPS)
    np.testing.assert_allclose(runs.D, D, rtol=1e-15)
    np.testing.assert_array_equal(runs.flops, FLOPS)


def test_D_and_flops_both_kept():
    flops = [2 * f for f in FLOPS]  # real compute may differ from 6ND
    runs = make(flops=flops)
    np.testing.assert_array_equal(runs.D, D)
    np.testing.assert_array_equal(runs.flops, flops)


@pytest.mark.parametrize("column", ["N", "D", "loss", "flops"])
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_positive_column(column, bad):
    base = {"N": N, "D": D, "loss": LOSS, "flops": FLOPS}
    kwargs = dict(base, **{column: with_value(base[column], 1, bad)})
    with pytest.raises(ValueError, match=rf"^{column} must be finite and positive, got {column}\[1\]={re.escape(repr(bad))}$"):
        Runs(**kwargs)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_weight(bad):
    with pytest.raises(ValueError, match=rf"weight must be finite and non-negative, got weight\[2\]={re.escape(repr(bad))}"):
        make(weight=[1.0, 1.0, bad])


def test_zero_weights_allowed_but_not_all():
    assert make(weight=[0.0, 1.0, 0.0]).weight.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="weight must have a positive sum"):
        make(weight=[0.0, 0.0, 0.0])


def test_mismatched_lengths():
    with pytest.raises(ValueError, match=r"columns differ in length: .*'N': 3.*'loss': 2"):
        make(loss=LOSS[:2])
    # also when D must be derived from flops (checked before dividing, no broadcasting)
    with pytest.raises(ValueError, match=r"columns differ in length: .*'N': 1.*'flops': 3"):
        make(N=[1e8], D=None, flops=FLOPS, loss=[3.0])


def test_two_dimensional():
    with pytest.raises(ValueError, match=r"N must be a 1-D array, got shape \(1, 3\)"):
        make(N=[N])
    with pytest.raises(ValueError, match=r"loss must be a 1-D array, got shape \(\)"):
        make(loss=3.0)


def test_empty():
    with pytest.raises(ValueError, match="at least one run"):
        Runs(N=[], D=[], loss=[])
    with pytest.raises(ValueError, match="at least one run"):
        Runs(N=[], D=[], loss=[], weight=[])


def test_missing_required():
    with pytest.raises(ValueError, match="loss is required"):
        Runs(N=N, D=D)
    with pytest.raises(ValueError, match="give D .* or flops"):
        Runs(N=N, loss=LOSS)


def test_not_numbers():
    with pytest.raises(ValueError, match="N must hold numbers"):
        make(N=["a", "b", "c"])


def test_group():
    runs = make(group=np.array([0, 0, 1], dtype=np.int32))
    assert runs.group.dtype == np.int64 and runs.group.tolist() == [0, 0, 1]
    assert make(group=[3.0, 1.0, 2.0]).group.tolist() == [3, 1, 2]  # integer-valued floats


@pytest.mark.parametrize("bad", [0.5, math.nan, math.inf])
def test_non_integer_group(bad):
    with pytest.raises(ValueError, match=rf"group must be integer labels, got group\[1\]={re.escape(repr(bad))}"):
        make(group=[0.0, bad, 1.0])


def test_group_names_and_shape_rejected():
    with pytest.raises(ValueError, match=r"group must hold integer labels, got dtype <U1 \(group\[0\]='a'\)"):
        make(group=["a", "b", "c"])
    with pytest.raises(ValueError, match="group must hold integer labels, got dtype bool"):
        make(group=[True, False, True])
    with pytest.raises(ValueError, match=r"group must be a 1-D array .* shape \(1, 3\)"):
        make(group=[[0, 1, 2]])
    with pytest.raises(ValueError, match="columns differ in length"):
        make(group=[0, 1])


def test_frozen():
    runs = make()
    with pytest.raises(AttributeError):
        runs.N = np.array(N)


def test_repr_is_short():
    text = repr(make(group=[0, 0, 1]))
    assert text.startswith("Runs(3 runs, N 1e+08..1e+09") and "2 groups" in text


# --- select and drop_highest ------------------------------------------------------------


def test_select_mask_and_indices():
    runs = make(weight=[1.0, 2.0, 3.0], group=[5, 6, 7])
    sub = runs.select(np.array([True, False, True]))
    assert sub.N.tolist() == [N[0], N[2]]
    assert sub.weight.tolist() == [1.0, 3.0] and sub.group.tolist() == [5, 7]
    np.testing.assert_array_equal(sub.flops, runs.flops[[0, 2]])
    assert runs.select([2, 0]).loss.tolist() == [LOSS[2], LOSS[0]]


def test_select_keeps_explicit_flops():
    runs = make(flops=[2 * f for f in FLOPS])
    assert runs.select([1]).flops.tolist() == [2 * FLOPS[1]]


def test_select_errors():
    runs = make()
    with pytest.raises(ValueError, match=r"boolean mask must have shape \(3,\), got \(2,\)"):
        runs.select([True, False])
    with pytest.raises(ValueError, match="at least one run"):
        runs.select([False, False, False])
    with pytest.raises(ValueError, match="does not select"):
        runs.select([5])
    with pytest.raises(ValueError, match="booleans or integer indices"):
        runs.select([0.5])


def test_drop_highest():
    loss = [3.0, 5.0, 2.0, 4.0, 1.0]
    runs = Runs(N=np.arange(1.0, 6.0), D=np.ones(5), loss=loss)
    kept = runs.drop_highest(2)
    assert kept.loss.tolist() == [3.0, 2.0, 1.0]  # original order
    assert kept.N.tolist() == [1.0, 3.0, 5.0]
    assert runs.drop_highest(0).loss.tolist() == loss
    for k in (-1, 5):
        with pytest.raises(ValueError, match=r"k must be in \[0, 5\)"):
            runs.drop_highest(k)


# --- from_columns -------------------------------------------------------------------------


TABLE = {"Model Size": N, "Training FLOP": FLOPS, "loss": LOSS, "extra": ["a", "b", "c"]}
MAPPING = {"N": "Model Size", "flops": "Training FLOP"}


def test_from_columns_dict():
    runs = Runs.from_columns(TABLE, MAPPING)
    np.testing.assert_array_equal(runs.N, N)
    np.testing.assert_allclose(runs.D, D, rtol=1e-15)
    assert runs.group is None


def test_from_columns_unmapped_names_looked_up_as_themselves():
    runs = Runs.from_columns({"N": N, "D": D, "loss": LOSS, "group": [1, 1, 2]})
    assert runs.group.tolist() == [1, 1, 2]


def test_from_columns_errors():
    with pytest.raises(ValueError, match=r"no column 'Params' \(for N\); the table has"):
        Runs.from_columns(TABLE, {"N": "Params", "flops": "Training FLOP"})
    with pytest.raises(ValueError, match=r"no column for N; the table has"):
        Runs.from_columns(TABLE, {"flops": "Training FLOP"})
    with pytest.raises(ValueError, match=r"no column for D or flops"):
        Runs.from_columns(TABLE, {"N": "Model Size"})
    with pytest.raises(ValueError, match=r"several names to the same column\(s\) \['Model Size'\]"):
        Runs.from_columns(TABLE, {"N": "Model Size", "D": "Model Size", "flops": "Training FLOP"})
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['tokens'\]"):
        Runs.from_columns(TABLE, {"N": "Model Size", "tokens": "Training FLOP"})
    bad = dict(TABLE, **{"Model Size": [1e8, -4e8, 1e9]})
    with pytest.raises(ValueError, match=r"column 'Model Size' \(N\) must be finite and positive, got -400000000.0 at row 1"):
        Runs.from_columns(bad, MAPPING)


def test_from_columns_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(TABLE)
    runs = Runs.from_columns(frame, MAPPING)
    np.testing.assert_array_equal(runs.N, N)
    np.testing.assert_allclose(runs.D, D, rtol=1e-15)
    frame.loc[2, "loss"] = float("nan")
    with pytest.raises(ValueError, match=r"loss must be finite and positive, got loss\[2\]=nan"):
        Runs.from_columns(frame, MAPPING)
    twice = pd.concat([pd.DataFrame(TABLE), pd.DataFrame({"loss": LOSS})], axis=1)
    with pytest.raises(ValueError, match=r"column 'loss' \(for loss\) appears 2 times"):
        Runs.from_columns(twice, MAPPING)


# --- from_csv -----------------------------------------------------------------------------


HEADER = "Model Size,Training FLOP,loss,note\n"
ROWS = "".join(f"{n!r},{f!r},{l!r},run {i}\n" for i, (n, f, l) in enumerate(zip(N, FLOPS, LOSS)))


def write(tmp_path, text, name="runs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_from_csv(tmp_path):
    runs = Runs.from_csv(write(tmp_path, HEADER + ROWS), MAPPING)
    np.testing.assert_array_equal(runs.N, N)
    np.testing.assert_array_equal(runs.flops, FLOPS)
    np.testing.assert_array_equal(runs.loss, LOSS)
    np.testing.assert_allclose(runs.D, D, rtol=1e-15)


def test_from_csv_str_path_blank_lines_bom_spaces_crlf(tmp_path):
    rows = ROWS.splitlines(keepends=True)
    text = "\ufeff Model Size , Training FLOP,loss,note\n\n" + rows[0] + "\n  \n" + "".join(rows[1:]) + "\n\n"
    runs = Runs.from_csv(str(write(tmp_path, text.replace("\n", "\r\n"))), MAPPING)
    np.testing.assert_array_equal(runs.N, N)


def test_from_csv_group_and_weight(tmp_path):
    text = "N,D,loss,weight,group\n1e8,2e9,3.1,1,0\n4e8,8e9,2.8,0.5,0\n1e9,2e10,2.6,2,1.0\n"
    runs = Runs.from_csv(write(tmp_path, text))
    assert runs.weight.tolist() == [1.0, 0.5, 2.0] and runs.group.tolist() == [0, 0, 1]
    assert runs.group.dtype == np.int64


def test_from_csv_missing_column(tmp_path):
    path = write(tmp_path, HEADER + ROWS)
    with pytest.raises(ValueError, match=r"runs.csv: no column 'Params' \(for N\); the header has \['Model Size'"):
        Runs.from_csv(path, {"N": "Params", "flops": "Training FLOP"})
    with pytest.raises(ValueError, match=r"runs.csv: no column for N; the table has"):
        Runs.from_csv(path, {"flops": "Training FLOP"})


def test_from_csv_duplicate_header(tmp_path):
    path = write(tmp_path, "Model Size,Training FLOP,loss,loss\n1e8,1e18,3,3\n")
    with pytest.raises(ValueError, match=r"column 'loss' \(for loss\) appears 2 times in the header"):
        Runs.from_csv(path, MAPPING)
    # a repeated column the runs do not use is no obstacle
    path = write(tmp_path, "Model Size,Training FLOP,loss,x,x\n1e8,1e18,3,a,b\n", "unused.csv")
    assert len(Runs.from_csv(path, MAPPING)) == 1


def test_from_csv_two_names_one_column(tmp_path):
    with pytest.raises(ValueError, match=r"several names to the same column\(s\) \['loss'\]"):
        Runs.from_csv(write(tmp_path, HEADER + ROWS), dict(MAPPING, loss="loss", weight="loss"))


def test_from_csv_non_numeric_value(tmp_path):
    rows = ROWS.splitlines(keepends=True)
    text = HEADER + rows[0] + "\n" + "1e9,oops,2.6,x\n"  # line 4, after a blank line
    with pytest.raises(ValueError, match=r"runs.csv, line 4: column 'Training FLOP' is not a number: 'oops'"):
        Runs.from_csv(write(tmp_path, text), MAPPING)
    with pytest.raises(ValueError, match=r"line 3: column 'loss' is not a number: ''"):
        Runs.from_csv(write(tmp_path, HEADER + rows[0] + "1e9,1e19,,x\n"), MAPPING)


def test_from_csv_wrong_field_count(tmp_path):
    rows = ROWS.splitlines(keepends=True)
    text = HEADER + rows[0] + rows[1] + "1e9,1e19,2.6\n"
    with pytest.raises(ValueError, match=r"runs.csv, line 4: 3 fields, the header has 4"):
        Runs.from_csv(write(tmp_path, text), MAPPING)


def test_from_csv_bad_values_report_line(tmp_path):
    rows = ROWS.splitlines(keepends=True)
    text = HEADER + rows[0] + "\n" + "-1e9,1e19,2.6,x\n"
    with pytest.raises(ValueError, match=r"runs.csv, line 4: column 'Model Size' \(N\) must be finite and positive, got -1000000000.0"):
        Runs.from_csv(write(tmp_path, text), MAPPING)
    with pytest.raises(ValueError, match=r"line 3: column 'loss' must be finite, got 'inf'"):
        Runs.from_csv(write(tmp_path, HEADER + rows[0] + "1e9,1e19,inf,x\n"), MAPPING)
    text = "N,D,loss,group\n1e8,2e9,3.1,0\n1e9,2e10,2.6,1.5\n"
    with pytest.raises(ValueError, match=r"line 3: column 'group' must be an integer label, got '1.5'"):
        Runs.from_csv(write(tmp_path, text), None)
    text = "N,D,loss,weight\n1e8,2e9,3.1,0\n1e9,2e10,2.6,0\n"
    with pytest.raises(ValueError, match=r"runs.csv: weight must have a positive sum"):
        Runs.from_csv(write(tmp_path, text), None)


def test_from_csv_empty(tmp_path):
    with pytest.raises(ValueError, match="runs.csv: the file is empty"):
        Runs.from_csv(write(tmp_path, ""), MAPPING)
    with pytest.raises(ValueError, match="runs.csv: Runs needs at least one run; the file has a header and no data"):
        Runs.from_csv(write(tmp_path, HEADER + "\n"), MAPPING)


# --- from_csv: malformed files are ValueErrors naming the file, the line and the column ----


@pytest.mark.parametrize("cell", ["1e30", "-1e30", "9223372036854775808", "1e19"])
def test_from_csv_group_beyond_int64(tmp_path, cell):
    text = f"N,D,loss,group\n1e8,2e9,3.1,0\n1e9,2e10,2.6,{cell}\n"
    with pytest.raises(ValueError, match=rf"runs.csv, line 3: column 'group' must be an integer label "
                                         rf"between -2\^63 and 2\^63 - 1, got '{cell}'"):
        Runs.from_csv(write(tmp_path, text), None)


def test_from_csv_group_keeps_every_digit(tmp_path):
    """Labels beyond float64's 2^53 stay distinct: read as integers, not through float."""
    text = "N,D,loss,group\n1e8,2e9,3.1,9007199254740993\n1e9,2e10,2.6,9007199254740992\n"
    runs = Runs.from_csv(write(tmp_path, text), None)
    assert runs.group.tolist() == [9007199254740993, 9007199254740992]


@pytest.mark.parametrize("label", [10**30, -(10**30), 2**63])
def test_group_beyond_int64_is_a_value_error(label):
    with pytest.raises(ValueError, match=r"group must be integer labels between -2\^63 and 2\^63 - 1, got group\[1\]="):
        make(group=[0, label, 1])


def test_from_csv_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("N,D,loss,note\n1e8,2e9,3.1,ok\n1e9,2e10,2.6,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv, line 3: column 'note' is not UTF-8 text \(byte 0xe9\); "
                                         r"save the file as UTF-8"):
        Runs.from_csv(path, None)
    path.write_bytes(b"N,D,lo\xffss\n1e8,2e9,3.1\n")
    with pytest.raises(ValueError, match=r"latin1.csv, line 1: the header is not UTF-8 text \(byte 0xff\)"):
        Runs.from_csv(path, None)


def test_from_csv_huge_values(tmp_path):
    with pytest.raises(ValueError, match=r"runs.csv, line 3: column 'N' must be finite, got '1e400'"):
        Runs.from_csv(write(tmp_path, "N,D,loss\n1e8,2e9,3.1\n1e400,2e10,2.6\n"), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from numpy on the way
        with pytest.raises(ValueError, match=r"runs.csv, line 3: flops = 6 N D \(columns 'N', 'D'\) must be finite "
                                             r"and positive, got inf"):
            Runs.from_csv(write(tmp_path, "N,D,loss\n1e8,2e9,3.1\n1e300,2e300,2.6\n"), None)
        with pytest.raises(ValueError, match=r"runs.csv, line 2: D = flops / 6N \(columns 'flops', 'N'\) must be "
                                             r"finite and positive, got 0.0"):
            Runs.from_csv(write(tmp_path, "N,flops,loss\n1e300,1e-300,3.1\n"), None)


def test_from_csv_header_only(tmp_path):
    with pytest.raises(ValueError, match=r"runs.csv: Runs needs at least one run; the file has a header and no "
                                         r"data rows"):
        Runs.from_csv(write(tmp_path, "N,D,loss\n\n\n"), None)


def test_from_csv_field_too_large(tmp_path):
    text = "N,D,loss,note\n1e8,2e9,3.1,ok\n1e9,2e10,2.6," + "x" * 200_000 + "\n"
    with pytest.raises(ValueError, match=r"runs.csv, line 3: .*field larger than field limit"):
        Runs.from_csv(write(tmp_path, text), None)


def test_from_csv_ragged_and_duplicated(tmp_path):
    with pytest.raises(ValueError, match=r"runs.csv, line 3: 4 fields, the header has 3"):
        Runs.from_csv(write(tmp_path, "N,D,loss\n1e8,2e9,3.1\n1e9,2e10,2.6,7\n"), None)
    with pytest.raises(ValueError, match=r"runs.csv: column 'N' \(for N\) appears 2 times in the header"):
        Runs.from_csv(write(tmp_path, "N,D,N,loss\n1e8,2e9,1e8,3.1\n"), None)


@pytest.mark.parametrize("content, text", [
    (b"N,D,loss,group\n1e8,2e9,3.1,0\n1e9,2e10,2.6,1e30\n", "line 3: column 'group' must be an integer label"),
    (b"N,D,loss\n1e8,2e9,3.1\n1e9,2e10,2.6\xff\n", "line 3: column 'loss' is not UTF-8 text"),
], ids=["group 1e30", "latin-1"])
def test_cli_reports_a_malformed_csv_in_one_line(tmp_path, content, text):
    import contextlib
    import io

    from scalinglaws_jax import cli

    path = tmp_path / "runs.csv"
    path.write_bytes(content)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = cli.main(["fit", str(path), "--approach", "1"])
    assert status == 2 and err.getvalue().count("\n") == 1
    assert err.getvalue().startswith(f"scalinglaws: error: {path}, {text}"), err.getvalue()
