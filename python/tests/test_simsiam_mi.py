"""Tests for python/simsiam_mi: every function against `simsiam-mi estimate`'s JSON on the same
data, the Tracker against those functions, the PyTorch example's run as the run report reads it,
inputs (dtypes, orders, torch), errors with the C message, the struct mirrors, memory over 10 000
calls, the thread count, and the offline venv install.  Run by tests/run.sh (SIMSIAM_MI_LIB,
PYTHONPATH=python, SM_BIN set there)."""
import ctypes
import json
import math
import os
import re
import shutil
import subprocess
import signal
import sys
import threading
import time

import numpy as np
import pytest

import simsiam_mi as sm

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SM_BIN", os.path.join(REPO, "build", "simsiam-mi"))
TOL = 1e-12


def cli(tmp_path, *args, **arrays):
    """`simsiam-mi estimate ARGS --name name.npy ...` on the arrays, as the parsed JSON."""
    cmd = [BIN, "estimate", *args]
    for name, a in arrays.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, a)
        cmd += [f"--{name}", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def close(got, want):
    assert abs(got - want) <= TOL * max(1.0, abs(want)), (got, want)


@pytest.fixture(scope="module")
def pairs():
    r = np.random.default_rng(1)
    x = r.normal(size=(400, 2))
    y = x @ np.array([[1.0, 0.3], [0.0, 0.8]]) + 0.5 * r.normal(size=(400, 2))
    return x, y


def test_entropy_matches_cli(tmp_path, pairs):
    x, _ = pairs
    for est, extra, k in (("kl", ["--k", "4"], 4), ("gauss", [], 3)):  # k does not apply to gauss
        want = cli(tmp_path, "entropy", "--estimator", est, *extra, x=x)["value"]
        close(sm.entropy(x, k=k, estimator=est), want)
    want = cli(tmp_path, "entropy", "--whiten", "--noise", "0.01", "--seed", "5", x=x)["value"]
    close(sm.entropy(x, whiten=True, noise=0.01, seed=5), want)


def test_mi_matches_cli(tmp_path, pairs):
    x, y = pairs
    for est in ("ksg1", "ksg2", "gauss"):
        extra, k = ([], 3) if est == "gauss" else (["--k", "5"], 5)  # k does not apply to gauss
        want = cli(tmp_path, "mi", "--estimator", est, *extra, x=x, y=y)["value"]
        close(sm.mi(x, y, k=k, estimator=est), want)
    close(sm.mi(x, y, whiten=True), cli(tmp_path, "mi", "--whiten", x=x, y=y)["value"])


def test_issue_one_liner_matches_cli(tmp_path):
    """The issue's example: mi of two uniform 1000 × 2 arrays."""
    x, y = np.random.rand(1000, 2), np.random.rand(1000, 2)
    close(sm.mi(x, y), cli(tmp_path, "mi", x=x, y=y)["value"])


def test_nll_matches_cli(tmp_path, pairs):
    x, y = pairs
    for family in ("l2", "iso", "diag", "full", "vmf"):
        close(sm.nll(y, x, family=family), cli(tmp_path, "nll", "--family", family, z=y, p=x)["value"])
    want = cli(tmp_path, "nll", "--family", "mix", "--components", "2", "--seed", "3", z=y, p=x)["value"]
    close(sm.nll(y, x, family="mix", components=2, seed=3), want)


def same_json(got, want):
    """The same keys in the same order, the same values (numbers to TOL; seconds differ)."""
    assert list(got) == list(want)
    for key, value in want.items():
        if key == "seconds":
            continue
        if isinstance(value, float):
            close(got[key], value)
        else:
            assert got[key] == value, key


def test_bound_matches_cli(tmp_path, pairs):
    x, y = pairs
    p1 = 0.9 * x
    for family in ("full", "vmf"):
        want = cli(tmp_path, "bound", "--family", family, "--k", "4", z1=x, z2=y, p1=p1)
        same_json(sm.bound(x, y, p1, family=family, k=4), want)


def test_estimate_is_the_cli_json(tmp_path, pairs):
    """estimate() gives `estimate`'s JSON: subsampling intervals, vmf's kappa, mix's note."""
    x, y = pairs
    cases = [
        (["entropy", "--subsample", "6", "--seed", "2"], dict(subsample=6, seed=2), dict(x=x)),
        (["entropy", "--estimator", "gauss", "--subsample", "4"], dict(estimator="gauss", subsample=4), dict(x=x)),
        (["mi", "--k", "4", "--subsample", "5", "--whiten"], dict(k=4, subsample=5, whiten=True), dict(x=x, y=y)),
        (["mi", "--estimator", "ksg2", "--noise", "0.01", "--seed", "7"], dict(estimator="ksg2", noise=0.01, seed=7),
         dict(x=x, y=y)),
        (["nll", "--family", "vmf"], dict(estimator="vmf"), dict(z=y, p=x)),
        (["nll", "--family", "mix", "--components", "2", "--seed", "3"], dict(estimator="mix", components=2, seed=3),
         dict(z=y, p=x)),
        (["nll"], {}, dict(z=y, p=x)),
        (["nll", "--family", "gauss-iso"], dict(family="gauss-iso"), dict(z=y, p=x)),  # an alias, the row's name
    ]
    for args, options, arrays in cases:
        got = sm.estimate(args[0], *arrays.values(), **options)
        same_json(got, cli(tmp_path, *args, **arrays))
    interval = sm.estimate("mi", x, y, subsample=5)
    assert interval["ci_low"] <= interval["value"] <= interval["ci_high"]
    assert interval["value"] == sm.mi(x, y)


def test_bound_gap_does_not_depend_on_units(pairs):
    """z2 and p1 in other units move E[NLL_Q] and Ĥ(z2|z1) by the same d log s: the gap stays (it
    moved by 1.8 nats at s = 0.1 with unwhitened KSG blocks)."""
    x, y = pairs
    p1 = 0.9 * x
    b = sm.bound(x, y, p1)
    for s in (10.0, 0.1):
        c = sm.bound(x, y * s, p1 * s)
        close(c["nll"], b["nll"] + y.shape[1] * np.log(s))
        close(c["gap"], b["gap"])
        close(c["i_ksg"], b["i_ksg"])


def test_tracker_row_is_the_estimators(pairs):
    """With d <= max_dim the row's columns are the plain estimators' (z1, z2 whitened for i_ksg)."""
    x, y = pairs
    p1, p2 = 0.9 * x, 0.9 * y
    zv = np.random.default_rng(2).normal(size=(3, 8, 2))
    t = sm.Tracker(seed=4, resamples=4, mix=0, mlp=False)  # the compared columns do not need the floors
    row = t(x, y, p1, zv=zv, p2=p2, step=7)
    assert list(row) == t.csv_header().strip().split(",")
    assert row["step"] == 7 and row["dim_used"] == 2
    for family in ("l2", "iso", "diag", "full", "vmf"):
        close(row["nll_" + family], sm.nll(y, p1, family=family))
    close(row["h_z_kl"], sm.entropy(y))
    close(row["h_z_gauss"], sm.entropy(y, estimator="gauss"))
    close(row["i_gauss"], sm.mi(x, y, estimator="gauss"))
    close(row["i_ksg"], sm.mi(x, y, whiten=True))
    b = sm.bound(x, y, p1)  # the tracker's chain: every term of the row
    for column, key in (("h_z_kl", "h_z2"), ("nll_full", "nll"), ("h_z_given_z1", "h_z2_given_z1"),
                        ("i_ksg", "i_ksg"), ("i_ba", "ba"), ("i_infonce", "infonce")):
        close(row[column], b[key])
    close(row["kappa"], sm.bound(x, y, p1, family="vmf")["kappa"])
    close(row["h_z_given_x"], np.mean([sm.entropy(v) for v in zv]))
    cos = lambda a, b: np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
    close(row["loss_cos"], -0.5 * cos(p1, y) - 0.5 * cos(p2, x))
    # the same event again is the same row; the CSV line is the trainer's formatting
    assert t(x, y, p1, zv=zv, p2=p2, step=7) == row
    assert t.csv_row().startswith("7,") and t.csv_row().count(",") == len(row) - 1
    detail = t.row(detail=True)
    assert set(t.csv_header("track_detail").strip().split(",")) <= set(detail)


def test_tracker_without_zv_and_p2(pairs):
    x, y = pairs
    row = sm.Tracker(resamples=4, mix=0, mlp=False)(x, y, 0.9 * x)
    assert np.isnan(row["h_z_given_x"]) and np.isnan(row["loss_cos"])
    assert np.isfinite(row["i_ksg"]) and 0 < row["z_std"] <= 1


def test_tracker_projects_wide_embeddings():
    r = np.random.default_rng(3)
    z1 = r.normal(size=(200, 12))
    row = sm.Tracker(max_dim=4, resamples=4, mix=0, mlp=False)(z1, z1 + 0.3 * r.normal(size=z1.shape), z1)
    assert row["dim_used"] == 4


EXAMPLE = os.path.join(REPO, "python", "examples", "torch_simsiam_track.py")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"  # the example's data


def test_torch_example_run_is_reported_as_a_trainer_run(tmp_path):
    """The example's run directory reads as a trainer's: a run interrupted after its first steps has
    no summary.json (an earlier run's is removed when it starts) and is reported not finished; one
    that ends has the trainer's summary line, and the report says finished, with the configuration
    keys the example has and no empty one, and no train.log that is not there."""
    pytest.importorskip("torch")
    if not os.path.exists(FASHION):
        pytest.skip(f"no {FASHION} (make deps)")
    out = tmp_path / "torch"
    out.mkdir()
    (out / "summary.json").write_text('{"steps":999}\n')  # an earlier run's
    args = [sys.executable, EXAMPLE, "--batch", "16", "--track-every", "4", "--track-samples", "64",
            "--track-images", "4", "--track-views", "8", "--threads", "1", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))

    def report():
        subprocess.run([os.path.join(REPO, "analysis", "run-report.sh"), str(out)], check=True, capture_output=True)
        return (out / "report.md").read_text()

    run = subprocess.Popen(args + ["--steps", "100000"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hang_guard = threading.Timer(600, run.kill)  # ends a run that hangs; no assertion on the time
    hang_guard.start()
    while not (out / "train.csv").exists() or len((out / "train.csv").read_text().splitlines()) < 3:
        assert run.poll() is None, run.stderr.read()
        time.sleep(0.1)
    # SIGTERM, not SIGINT: a shell that starts the suite in the background ignores SIGINT for its
    # children, and python then never raises KeyboardInterrupt
    run.send_signal(signal.SIGTERM)
    assert run.wait() == -signal.SIGTERM
    hang_guard.cancel()
    run.stderr.close()
    assert not (out / "summary.json").exists()
    assert "Not finished (no summary.json: still running, interrupted or failed): last logged step" in report()

    subprocess.run(args + ["--steps", "4"], env=env, check=True, capture_output=True)
    summary = (out / "summary.json").read_text()
    assert summary.endswith("}\n") and summary.count("\n") == 1
    got = json.loads(summary)
    assert list(got) == ["steps", "epochs", "images_per_s", "final_loss", "knn_acc", "out"]
    last = (out / "train.csv").read_text().splitlines()[-1].split(",")
    assert got["steps"] == 4 and last[0] == "4"
    assert got["epochs"] == float(f"{4 * 16 / 60000:.6g}")
    assert got["final_loss"] == float(f"{float(last[4]):.6g}")
    assert got["images_per_s"] > 0 and got["knn_acc"] is None and got["out"] == str(out)
    text = report()
    assert (f"Finished: 4 steps ({got['epochs']:g} epochs), final loss {got['final_loss']:g}, kNN accuracy n/a, "
            f"{got['images_per_s']} images/s.") in text
    config = re.search(r"^Configuration: `(.*)`$", text, re.M).group(1).split()
    assert [kv.split("=")[0] for kv in config] == ["dataset", "arch", "width", "z_dim", "batch", "steps", "loss",
                                                   "lr", "pred_lr_mult", "pred_steps", "pred_mode", "seed",
                                                   "track_every", "track_samples", "track_views", "track_images"]
    assert all(re.fullmatch(r"\w+=\S+", kv) for kv in config), config
    assert "train.log" not in text


def test_interval_coverage_script():
    """scripts/interval_coverage.py (docs/design.md §1.6's calibration figures) runs on the module: a
    row per quantity with its true value (a true gap of 0.2 nats here), and the link's verdicts over the
    data sets by both rules."""
    out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "interval_coverage.py"), "2", "64", "0.5",
                          "5", "10", "10", "0.2"], capture_output=True, text=True, check=True).stdout
    rows = {line[:24].strip(): line[24:].split() for line in out.splitlines()[2:10]}
    h = math.log(2 * math.pi * math.e)  # H(z2) of two standard normal coordinates
    assert [(name, float(v[0])) for name, v in rows.items()] == [
        ("entropy kl", round(h, 4)), ("entropy gauss", round(h, 4)), ("mi ksg1", 0.5), ("mi gauss", 0.5),
        ("tracker nll_r", round(h - 0.5 + 0.2, 4)), ("tracker h_z_given_z1", round(h - 0.5, 4)), ("tracker i_ksg", 0.5),
        ("tracker gap (paired)", 0.2)]
    assert all(0 <= float(v[2]) <= 1 and 0 <= float(v[3]) <= 1 for v in rows.values())
    rules = re.findall(r"^  (two intervals' overlap|paired gap interval) +holds (\d+), within noise (\d+), fails (\d+)$",
                       out, re.M)
    assert [r[0] for r in rules] == ["two intervals' overlap", "paired gap interval"]
    assert all(sum(int(c) for c in r[1:]) == 5 for r in rules)


def test_dtypes_orders_and_torch(pairs):
    x, y = pairs
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    want = sm.mi(x32.astype(np.float64), y32.astype(np.float64))
    assert sm.mi(x32, y32) == want
    assert sm.mi(np.asfortranarray(x32), y32[::1]) == want
    assert sm.entropy(x[:, 0]) == sm.entropy(x[:, :1])  # 1-D: one column
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x32, requires_grad=True)
    assert sm.mi(tx, torch.tensor(y32)) == want
    assert "torch" not in sm.__dict__


def test_errors_carry_the_c_message(pairs):
    x, y = pairs
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("non-finite value at row 5, column 1")):
        sm.entropy(bad)
    with pytest.raises(ValueError, match="k must satisfy 1 <= k < N, got k = 400, N = 400") as e:
        sm.mi(x, y, k=400)
    assert e.value.code == 1  # the data's size, as the CLI's exit 1
    with pytest.raises(sm.Error) as e:
        sm.entropy(x, k=0)
    assert e.value.code == 2
    with pytest.raises(ValueError, match="row counts differ: 400 in x, 399 in y"):
        sm.mi(x, y[:-1])
    with pytest.raises(ValueError, match="column counts differ"):
        sm.nll(x, y[:, :1])
    for family in ("gauss", "mix"):  # mix is an nll family, not one of bound's
        with pytest.raises(ValueError, match=re.escape(f"unknown family '{family}' for bound (choose l2, iso, diag, "
                                                       "full or vmf: every nll family but mix)")):
            sm.bound(x, y, x, family=family)
    with pytest.raises(ValueError, match="unknown estimator"):
        sm.mi(x, y, estimator="kde")
    with pytest.raises(ValueError, match="need at least 4 probe pairs"):
        sm.Tracker()(x[:3], y[:3], x[:3])
    with pytest.raises(sm.Error, match="need k >= 1, max_dim >= 1 and resamples >= 2, got 3, 0 and 2"):
        sm.Tracker(max_dim=0, resamples=2)(x, y, x)  # was a C assertion that ended the interpreter
    with pytest.raises(sm.Error, match=re.escape("k must be an integer in [1, 1000000], got -1")):
        sm.mi(x, y, k=-1)  # not wrapped to 2**64 - 1
    with pytest.raises(sm.Error, match=re.escape("step must be in [0, 2**64), got -1")):
        sm.Tracker()(x, y, x, step=-1)
    closed = sm.Tracker()
    closed.close()
    for read in (closed.row, closed.csv_row, lambda: closed(x, y, x)):  # the C row is gone: no crash
        with pytest.raises(ValueError, match="Tracker is closed"):
            read()
    with pytest.raises(ValueError, match="duplicate samples"):
        sm.entropy(np.zeros((10, 2)))


def test_bad_calls_are_errors_with_the_cli_codes(pairs):
    """Every refusal is an sm.Error, .code 1 for the data and 2 for the call, as the CLI exits."""
    x, y = pairs

    def code(call, pattern):
        with pytest.raises(sm.Error, match=pattern) as e:
            call()
        return e.value.code

    assert code(lambda: sm.mi(x, y[:-1]), "row counts differ: 400 in x, 399 in y") == 1
    assert code(lambda: sm.nll(x, y[:, :1]), "column counts differ: 2 in z, 1 in p") == 1
    assert code(lambda: sm.entropy(np.zeros((2, 2, 2))), "expected a 2-D array") == 1
    assert code(lambda: sm.entropy(x * 1e200), re.escape("the estimate is not finite (inf): rescale")) == 1
    assert code(lambda: sm.mi(x, y, estimator="kde"), "unknown estimator 'kde' for mi") == 2
    assert code(lambda: sm.nll(x, y, family="bogus"), re.escape("(choose l2, iso, diag, full, vmf or mix)")) == 2
    assert code(lambda: sm.Tracker().csv_row("other"), "unknown file 'other'") == 2
    # ctypes would take these modulo 2**64: k = 2**64 + 3 ran as k = 3
    assert code(lambda: sm.entropy(x, k=2**64 + 3), re.escape("k must be an integer in [1, 1000000], got")) == 2
    assert code(lambda: sm.Tracker()(x, y, x, step=2**64), "step must be in") == 2
    for not_an_integer in (3.7, "3"):
        with pytest.raises(TypeError):
            sm.entropy(x, k=not_an_integer)
    # an option the estimator does not read is refused, as the CLI's "does not apply"
    assert code(lambda: sm.entropy(x, estimator="gauss", whiten=True), "option 'whiten' does not apply to gauss") == 2
    assert code(lambda: sm.mi(x, y, ridge=0.1), "option 'ridge' does not apply to ksg1") == 2
    assert code(lambda: sm.nll(x, y, family="full", components=3), "option 'components' does not apply") == 2
    assert code(lambda: sm.estimate("nll", x, y, subsample=4), "option 'subsample' does not apply to full") == 2
    assert code(lambda: sm.estimate("mi", x, y, subsample=1), "subsample needs at least 2 resamples") == 2
    # the CLI's ranges, checked before the data, as the CLI does
    assert code(lambda: sm.estimate("mi", x, y[:-1], seed=2**31), re.escape("seed must be an integer in [0, 2147483647]")) == 2
    assert code(lambda: sm.estimate("nll", x, y, family="mix", components=1001), "components must be an integer") == 2
    assert code(lambda: sm.estimate("entropy", x, estimator="gauss", ridge=1e301), "ridge must be a number in") == 2
    assert code(lambda: sm.estimate("mi", x, y, noise=float("nan")), "noise must be a number in") == 2
    assert code(lambda: sm.estimate("mi", x, y, subsample=100001), "subsample must be an integer in") == 2
    # an option the row does not read is compared with its default, never converted
    assert sm.estimate("entropy", x, estimator="gauss", k=3.0)["value"] == sm.entropy(x, estimator="gauss")
    assert code(lambda: sm.estimate("entropy", x, estimator="kl\0junk"), "unknown estimator") == 2
    assert code(lambda: sm.estimate("mi", x, y, family="full"), "family= names the nll family") == 2
    # what the estimator refuses once the options are in range is the data's: 1, as the CLI exits
    assert code(lambda: sm.estimate("entropy", np.ones((5, 0)), subsample=3), re.escape("x: array is empty")) == 1
    assert code(lambda: sm.estimate("mi", x[:8], np.ones((8, 0))), "y: array is empty") == 1
    y_nan = y.copy()
    y_nan[3, 1] = np.inf
    assert code(lambda: sm.mi(x, y_nan, estimator="gauss"), re.escape("non-finite value at row 3, column 1 (y)")) == 1
    assert code(lambda: sm.estimate("entropy", x[:1], estimator="gauss"), "") == 1
    assert code(lambda: sm.estimate("nll", x[:6], y[:6], "mix"), "rows in each half") == 1
    assert code(lambda: sm.estimate("entropy", x[:50], k=25, subsample=3),
                re.escape("k = 25 must be below the rows of a subsample, N/2 = 25 (subsamples of N/2 rows; x)")) == 1
    assert code(lambda: sm.estimate("mi", x), "mi takes x and y") == 2
    assert code(lambda: sm.estimate("entropy", x, y), "entropy takes x") == 2
    assert code(lambda: sm.estimate("kl", x), re.escape("unknown quantity 'kl' (choose entropy, mi or nll)")) == 2
    assert code(lambda: sm.estimate("mi", x[:8], y[:8], k=4, subsample=2), "below the rows of a subsample") == 1


def test_options_are_typed_and_messages_one_line(pairs):
    """A flag is True/False or 1/0 ("false" read as True before), a real is a number ("0.5" was
    converted), a count an integer, named as the others (operator.index's message named none), a
    masked array is refused (its mask was dropped), names that are not strings or carry a newline
    give the one-line message, bfloat16 tensors read as float32."""
    x, y = pairs
    assert sm.entropy(x, whiten=np.True_) == sm.entropy(x, whiten=1) == sm.entropy(x, whiten=True)
    assert sm.entropy(x, whiten=0) == sm.entropy(x)
    for call, name in ((lambda: sm.entropy(x, whiten="false"), "whiten"),
                       (lambda: sm.mi(x, y, whiten=np.array([True, False])), "whiten"),
                       (lambda: sm.Tracker(mlp="no"), "mlp"),
                       (lambda: sm.entropy(x, noise="0.5", seed=1), "noise"),
                       (lambda: sm.Tracker().row(detail="yes"), "detail"),
                       (lambda: sm.entropy(x, k="3"), "k"),
                       (lambda: sm.entropy(x, k=3.7), "k"),
                       (lambda: sm.entropy(x, seed=1.5, noise=0.1), "seed"),
                       (lambda: sm.nll(y, x, family="mix", components=2.0), "components"),
                       (lambda: sm.estimate("mi", x, y, subsample="4"), "subsample"),
                       (lambda: sm.bound(x, y, x, k=3.0), "k"),
                       (lambda: sm.Tracker(seed=1.5), "seed"),
                       (lambda: sm.Tracker(resamples="4"), "resamples"),
                       (lambda: sm.Tracker()(x, y, x, step=2.5), "step"),
                       (lambda: sm.set_threads("2"), "threads")):
        with pytest.raises(TypeError, match=f"^{name} must be "):
            call()
    with pytest.raises(sm.Error, match=re.escape("whiten must be True or False (or 1 or 0), got 2")) as e:
        sm.mi(x, y, whiten=2)
    assert e.value.code == 2
    masked = np.ma.masked_array(x, mask=np.zeros_like(x, dtype=bool))
    with pytest.raises(sm.Error, match="x: a masked array") as e:
        sm.entropy(masked)
    assert e.value.code == 1
    for call in (lambda: sm.mi(x, y, estimator="ksg1\nX"), lambda: sm.estimate(["mi"], x, y),
                 lambda: sm.Tracker.csv_header(["track"]), lambda: sm.Tracker.csv_header("tr\x1bck")):
        with pytest.raises(sm.Error) as e:
            call()
        assert e.value.code == 2 and "\n" not in str(e.value) and "\x1b" not in str(e.value), str(e.value)
    assert "'ksg1 X'" in str(pytest.raises(sm.Error, sm.mi, x, y, estimator="ksg1\nX").value)
    torch = pytest.importorskip("torch")
    t16 = torch.tensor(x).to(torch.bfloat16)
    assert sm.entropy(t16) == sm.entropy(t16.float().numpy())


def test_tracker_refuses_non_finite_inputs(pairs):
    """NaN in p2 gave loss_cos = NaN with no warning, NaN in z1 a NaN z_std: refused as the
    estimators refuse them, naming the input and where."""
    x, y = pairs
    zv = np.stack([x[:8], y[:8], x[:8] + y[:8]], axis=1)  # 8 images x 3 views x 2
    cases = [dict(z1=x, name="z1"), dict(p2=x, name="p2"), dict(zv=zv, name="zv")]
    for case in cases:
        args = dict(z1=x.copy(), z2=y, p1=x, p2=x.copy(), zv=zv.copy())
        bad = args[case["name"]]
        bad.flat[7] = np.nan  # row 3, column 1; in zv image 1, view 0, column 1
        where = "image 1, view 0, column 1" if case["name"] == "zv" else "row 3, column 1"
        with pytest.raises(sm.Error, match=re.escape(f"non-finite value at {where} ({case['name']})")) as e:
            sm.Tracker(resamples=2, mix=0, mlp=False)(**args)
        assert e.value.code == 1


def test_threads_bounded_and_per_calling_thread(pairs):
    """More than the CLI's 1024 threads crashed libgomp (and 2**40 wrapped to 0); OpenMP's setting
    belongs to the thread that made it."""
    x, _ = pairs
    before = sm.get_threads()
    for n in (100000, 2**40):
        with pytest.raises(sm.Error, match=f"threads must be at most 1024, got {n}"):
            sm.set_threads(n)
    assert sm.get_threads() == before
    assert np.isfinite(sm.entropy(x))

    def in_a_new_thread():
        seen = []
        t = threading.Thread(target=lambda: seen.append(sm.get_threads()))
        t.start()
        t.join()
        return seen[0]

    fresh = in_a_new_thread()
    sm.set_threads(1)
    try:
        assert sm.get_threads() == 1
        assert in_a_new_thread() == fresh  # not 1: the setting is the calling thread's
    finally:
        sm.set_threads(before)


def test_tracker_row_kept_after_a_refused_event(pairs):
    """A refused event leaves the last good row, step and all (it used to take the new step)."""
    x, y = pairs
    t = sm.Tracker()
    t(x, y, x, step=5)
    good = t.csv_row("track_detail")
    with pytest.raises(sm.Error):
        t(x[:3], y[:3], x[:3], step=6)
    assert t.row()["step"] == 5
    assert t.csv_row("track_detail") == good


def test_struct_mirrors_match_c(tmp_path):
    """The ctypes structs against the C headers' sizes and offsets (a changed struct fails here)."""
    checks = {"sm_status": sm._Status, "sm_arena": sm._Arena, "sm_prep_opts": sm._Prep,
              "sm_est_opts": sm._EstOpts, "sm_estimator": sm._Estimator, "sm_resample_result": sm._Resample,
              "sm_bound_nce": sm._Nce, "sm_bound_chain_opts": sm._ChainOpts,
              "sm_bound_chain": sm._Chain, "sm_track_sample": sm._TrackSample, "sm_track_opts": sm._TrackOpts,
              "sm_track_column": sm._TrackColumn}
    lines = [f'printf("{c} %zu\\n", sizeof({c}));' for c in checks]
    for c, py in checks.items():
        lines += [f'printf("{c}.{f} %zu\\n", offsetof({c}, {f}));' for f, _ in py._fields_]
    src = tmp_path / "sizes.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n#include \"simsiam-mi.h\"\nint main(void) {\n"
                   + "\n".join(lines) + "\nprintf(\"line_max %d\\n\", SM_TRACK_LINE_MAX);\nreturn 0; }\n")
    exe = tmp_path / "sizes"
    subprocess.run(["cc", "-std=c11", f"-I{REPO}/src", "-o", str(exe), str(src)], check=True)
    got = dict(line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines())
    for c, py in checks.items():
        assert int(got[c]) == ctypes.sizeof(py), c
        for f, _ in py._fields_:
            assert int(got[f"{c}.{f}"]) == getattr(py, f).offset, f"{c}.{f}"
    assert int(got["line_max"]) == sm._LINE_MAX


def test_version_is_the_cli_version():
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"simsiam-mi {sm.__version__}"


def rss_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_no_leak_over_10000_calls():
    r = np.random.default_rng(4)
    x, y = r.normal(size=(40, 2)), r.normal(size=(40, 2))
    bad = x.copy()
    bad[0, 0] = np.inf
    t = sm.Tracker(resamples=2, mix=0, mlp=False)

    def calls(n):
        for i in range(n):
            sm.mi(x, y)
            sm.bound(x, y, x) if i % 10 == 0 else sm.nll(y, x)
            if i % 10 == 5:
                t(x, y, x)
            with pytest.raises(ValueError):
                sm.entropy(bad)  # the error path frees too

    calls(1000)  # warm up: allocator pools, OpenMP threads
    before = rss_kb()
    calls(10000)
    assert rss_kb() - before < 2048, (before, rss_kb())


THREADS_SCRIPT = """
import os, numpy as np, simsiam_mi as sm
def threads(): return len(os.listdir("/proc/self/task"))
x = np.random.default_rng(5).normal(size=(3000, 3))
sm.set_threads(1)
assert sm.get_threads() == 1
base = threads()
one = sm.mi(x, x + 0.1 * x[::-1])
assert threads() == base, (threads(), base)  # no OpenMP team was started
sm.set_threads(2)
assert sm.get_threads() == 2
assert sm.mi(x, x + 0.1 * x[::-1]) == one  # k-NN results do not depend on the thread count
print("ok", base, threads())
"""


def test_thread_count_respected():
    """In a fresh process: with set_threads(1) a call starts no thread, with 2 the result is the same."""
    env = dict(os.environ, OMP_NUM_THREADS="4", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_venv_install(tmp_path):
    """The offline install: a venv over the system's numpy, pip without build isolation, and the
    installed module finding the library (through SIMSIAM_MI_LIB, absolute, as run.sh sets it: no copy is installed)."""
    src = tmp_path / "python"  # a copy: pip builds in the source tree (build/, *.egg-info)
    shutil.copytree(os.path.join(REPO, "python"), src, ignore=shutil.ignore_patterns("tests", "examples", "build",
                                                                                    "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-build-isolation", "--no-index", str(src)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import simsiam_mi, numpy as np; print(simsiam_mi.__file__, simsiam_mi.mi(np.arange(50.0), np.arange(50.0) ** 2))"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(venv) in out.stdout
