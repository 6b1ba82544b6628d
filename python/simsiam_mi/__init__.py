"""simsiam-mi's estimators and tracking row, from Python (README.md, "Use from Python").

A thin ctypes layer over the C library libsimsiam-mi.so: every value comes from
the same C functions as `simsiam-mi estimate ...` and the trainer's tracker, so
they agree with them exactly.  Arrays are anything numpy.asarray takes (float32
or float64, C- or Fortran-ordered: copied to row-major float64 as the CLI reads
.npy files; not masked arrays), and torch tensors (through .detach().cpu().numpy(),
bfloat16 through float32; torch itself is never imported).  Rows are samples; a
1-D array is one column.  Values are in nats.  Counts are integers, flags True or
False (or 1 or 0), reals numbers: another type (a string) is a TypeError naming
the argument.  Bad input raises simsiam_mi.Error (a ValueError) with a one-line
message and .code as the CLI's exit status: 2 for the call (unknown names, options that do not apply, values outside
the CLI's ranges, checked first), 1 for the data (shapes, NaN, a non-finite result, and whatever
the C estimator refuses: k >= N, too few rows, duplicates; its C message kept).  A Tracker's
errors keep the C status.

The values are the CLI's bit for bit when both run on the same OpenBLAS kernel: the CLI runs itself
again with OPENBLAS_CORETYPE set on a CPU OpenBLAS does not recognise (README, "Speed"); the module
does not, so set OPENBLAS_CORETYPE before importing it for the same last bits there.

The library is found through, in order: $SIMSIAM_MI_LIB; build/libsimsiam-mi.so
of the repository this file sits in (PYTHONPATH=python from a built checkout);
the dynamic linker's search (an installed copy, `make install`).
"""
import ctypes
import ctypes.util
import numbers
import operator
import os
import time
import warnings

import numpy as np

__version__ = "0.1.0"  # src/cli/cli.h's SM_VERSION (python/tests check they agree)
__all__ = ["Error", "estimate", "entropy", "mi", "nll", "bound", "Tracker", "set_threads", "get_threads"]


class Error(ValueError):
    """A C function failed: str(e) is its one-line message, e.code its status (1 data, 2 usage)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# ---- the library ---------------------------------------------------------------------------------

def _candidates():
    env = os.environ.get("SIMSIAM_MI_LIB")
    if env:
        return [env]  # an explicit choice is never second-guessed
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "libsimsiam-mi.so")
    paths = [os.path.normpath(repo)] if os.path.exists(repo) else []
    found = ctypes.util.find_library("simsiam-mi")  # the ld.so cache: an installed copy
    paths += [found] if found else []
    return paths + ["libsimsiam-mi.so.0", "/usr/local/lib/libsimsiam-mi.so.0"]  # LD_LIBRARY_PATH, the default PREFIX


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(str(e))
    raise ImportError("simsiam_mi: cannot load libsimsiam-mi.so (build it with `make shared`, install it with "
                      "`make install`, or set SIMSIAM_MI_LIB): " + "; ".join(tried))


_lib = _load()

_size = ctypes.c_size_t
_dptr = ctypes.POINTER(ctypes.c_double)


# The C structs the calls pass (mirrors of the headers; python/tests check their sizes against C).
class _Status(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class _Arena(ctypes.Structure):
    _fields_ = [("head", ctypes.c_void_p), ("used", _size)]


class _Prep(ctypes.Structure):
    _fields_ = [("whiten", ctypes.c_int), ("noise", ctypes.c_double), ("seed", ctypes.c_uint64)]


class _EstOpts(ctypes.Structure):  # sm_est_opts: every option an estimator row reads
    _fields_ = [("k", _size), ("prep", _Prep), ("sphere", ctypes.c_int), ("ridge", ctypes.c_double),
                ("components", _size), ("seed", ctypes.c_uint64), ("kappa", ctypes.c_double)]


class _Estimator(ctypes.Structure):  # sm_estimator: a row of the registry
    _fields_ = [("name", ctypes.c_char_p), ("alias", ctypes.c_char_p), ("kind", ctypes.c_int),
                ("uses", ctypes.c_uint), ("fn", ctypes.c_void_p), ("doc", ctypes.c_char_p)]


class _Resample(ctypes.Structure):  # sm_resample_result
    _fields_ = [("value", ctypes.c_double), ("ci_low", ctypes.c_double), ("ci_high", ctypes.c_double),
                ("resamples", _size), ("m", _size)]


class _Nce(ctypes.Structure):
    _fields_ = [("n", _size), ("loss", ctypes.c_double), ("value", ctypes.c_double), ("cap", ctypes.c_double)]


class _ChainOpts(ctypes.Structure):
    _fields_ = [("family", ctypes.c_int), ("k", _size), ("prep", _Prep)]


class _Chain(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in ("h_z2", "nll", "h_z2_given_z1", "gap", "i_ksg", "ba")] + [
        ("nce", _Nce), ("kappa", ctypes.c_double)]


class _TrackSample(ctypes.Structure):
    _fields_ = [("z1", _dptr), ("z2", _dptr), ("p1", _dptr), ("p2", _dptr), ("n", _size), ("d", _size),
                ("zv", _dptr), ("images", _size), ("views", _size)]


class _TrackOpts(ctypes.Structure):
    _fields_ = [("k", _size), ("max_dim", _size), ("resamples", _size), ("seed", ctypes.c_uint64),
                ("mix", _size), ("mlp", ctypes.c_int)]


class _TrackColumn(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("offset", _size), ("kind", ctypes.c_int), ("files", ctypes.c_uint),
                ("unit", ctypes.c_char_p), ("doc", ctypes.c_char_p),
                ("derive", ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p))]  # SM_TRACK_DERIVED only


_P = ctypes.POINTER
_ST = _P(_Status)
_AR = _P(_Arena)
_SIGNATURES = {
    "sm_arena_free": (None, [_AR]),
    "sm_threads_set": (None, [ctypes.c_int]),
    "sm_threads_get": (ctypes.c_int, []),
    "sm_estimator_find": (_P(_Estimator), [ctypes.c_int, ctypes.c_char_p]),
    "sm_estimator_default": (_P(_Estimator), [ctypes.c_int]),
    "sm_estimator_choices": (None, [ctypes.c_int, ctypes.c_char_p, _size]),
    "sm_resample_subsample": (ctypes.c_int, [_dptr, _size, _dptr, _size, _size, _size, ctypes.c_uint64,
                                             ctypes.c_void_p, _P(_EstOpts), _P(_Resample), _AR, _ST]),
    "sm_nll_family_parse": (ctypes.c_int, [ctypes.c_char_p, _P(ctypes.c_int), _ST]),
    "sm_nll_family_name": (ctypes.c_char_p, [ctypes.c_int]),
    "sm_bound_chain_estimate": (ctypes.c_int, [_dptr, _dptr, _dptr, _size, _size, _P(_ChainOpts), _P(_Chain),
                                               _AR, _ST]),
    "sm_track_defaults": (None, [_P(_TrackOpts), ctypes.c_uint64]),
    "sm_track_event": (ctypes.c_int, [_P(_TrackSample), _P(_TrackOpts), ctypes.c_uint64, ctypes.c_void_p, _AR,
                                      _ST]),
    "sm_track_row_alloc": (ctypes.c_void_p, [_ST]),
    "sm_track_row_free": (None, [ctypes.c_void_p]),
    "sm_track_warning": (ctypes.c_char_p, [ctypes.c_void_p]),
    "sm_track_header": (ctypes.c_int, [ctypes.c_int, ctypes.c_char_p, _size]),
    "sm_track_format": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, _size]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args
# sm_resample_fn: an estimator row's adapter (ctx = sm_est_opts)
_ESTIMATOR_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P(_EstOpts), _dptr, _size, _dptr, _size, _size, _dptr, _AR, _ST)


def _call(fn, *args):
    """An estimator's fn(*args, workspace, status) with a fresh workspace; Error with the C message on
    failure, code 1: the caller has checked every option, so what is left is the data's (k >= N, too
    few rows, duplicates), as the CLI's exit 1."""
    ws, st = _Arena(), _Status()
    try:
        rc = fn(*args, ctypes.byref(ws), ctypes.byref(st))
    finally:
        _lib.sm_arena_free(ctypes.byref(ws))
    if rc:
        raise Error(st.msg.decode("utf-8", "replace"), 1)


# ---- arrays --------------------------------------------------------------------------------------

def _array(a, name, ndim=2):
    """a as a row-major float64 array of ndim dimensions (1-D: one column), every value finite."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor, without importing torch
        a = a.detach().cpu()
        if str(a.dtype) == "torch.bfloat16":  # numpy has no bfloat16; float32 holds it exactly
            a = a.float()
        a = a.numpy()
    if isinstance(a, np.ma.MaskedArray):  # np.asarray would drop the mask without a word
        raise Error(f"{name}: a masked array; fill or drop its masked entries first", 1)
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise Error(f"{name}: expected real numbers, got dtype {a.dtype}", 1)
    if ndim == 2 and a.ndim == 1:
        a = a[:, None]
    if a.ndim != ndim:
        raise Error(f"{name}: expected a {ndim}-D array (rows are samples), got shape {a.shape}", 1)
    if a.size == 0:
        raise Error(f"{name}: array is empty (shape {a.shape})", 1)
    return _all_finite(np.ascontiguousarray(a, dtype=np.float64), name)


def _all_finite(a, name):
    """a, or Error naming the first NaN or Inf by its row and column in a (0-based, as the library's
    messages count; a C estimator on x and y together would count y's columns after x's); in a 3-D
    array (zv) by its image, view and column."""
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        at = ", ".join(f"{axis} {i}" for axis, i in zip(("image", "view") if a.ndim == 3 else ("row",), bad[0]))
        raise Error(f"non-finite value at {at}, column {bad[0][-1]} ({name})", 1)
    return a


def _ptr(a):
    return a.ctypes.data_as(_dptr)


def _same_rows(a, name_a, b, name_b):
    if a.shape[0] != b.shape[0]:
        raise Error(f"row counts differ: {a.shape[0]} in {name_a}, {b.shape[0]} in {name_b}", 1)


def _same_shape(a, name_a, b, name_b):
    _same_rows(a, name_a, b, name_b)
    if a.shape[1] != b.shape[1]:
        raise Error(f"column counts differ: {a.shape[1]} in {name_a}, {b.shape[1]} in {name_b}", 1)


def _printable(value):
    """str(value) as one printable line for a message: control characters as '?', newlines and tabs
    as spaces (the C library's messages do the same, core/status.h)."""
    return "".join(" " if c in "\n\r\t" else "?" if ord(c) < 32 or ord(c) == 127 else c for c in str(value))


def _flag(value, name):
    """A yes/no option: True or False (numpy's too) or the integers 0 and 1; any other value, "false"
    included (truthy), is refused rather than read as True."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be True or False, got {_printable(repr(value))}") from None
    if v not in (0, 1):
        raise Error(f"{name} must be True or False (or 1 or 0), got {v}", 2)
    return bool(v)


def _integer(value, name):
    """value as an int (operator.index: numpy's integers too), else a TypeError naming the argument: 3.7
    and "3" are refused, not truncated or parsed (operator.index's own message names no argument)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {_printable(repr(value))}") from None


def _count(value, name):
    """A count or seed for a uint64_t or size_t C field, which ctypes would take modulo 2**64 without a
    word (-1 as 2**64 - 1, 2**64 + 3 as 3); an integer (_integer)."""
    v = _integer(value, name)
    if not 0 <= v < 1 << 64:
        raise Error(f"{name} must be in [0, 2**64), got {v}", 2)
    return v


def _finite(value, what):
    """value, or Error as the CLI's: JSON has no inf or nan, so a non-finite result is refused."""
    if not np.isfinite(value):
        raise Error(f"{what} is not finite ({value:g}): rescale the data", 1)
    return value


def _not_applicable(what, **given):
    """Error (code 2) for an option given away from its default that `what` does not read: the CLI
    refuses such options as misleading ("option '--whiten' does not apply to ...")."""
    for name, (value, default) in given.items():
        if value != default:
            raise Error(f"option '{name}' does not apply to {what}", 2)


def _bound_family(name):
    """bound's family: every nll family but mix, in the CLI's words."""
    f = ctypes.c_int()
    st = _Status()
    if str(name) == "mix" or _lib.sm_nll_family_parse(str(name).encode(), ctypes.byref(f), ctypes.byref(st)):
        raise Error(f"unknown family {_printable(name)!r} for bound (choose l2, iso, diag, full or vmf: every nll "
                    "family but mix)", 2)
    return f.value


# ---- the estimators (`simsiam-mi estimate`) ------------------------------------------------------

_THREADS_MAX = 1024  # the CLI's --threads range; libgomp crashes when it cannot start that many


def set_threads(n):
    """Threads for OpenMP and OpenBLAS, as the CLI's --threads (n <= 0: every core; at most 1024).
    OpenMP keeps the setting per calling thread: a Python thread of its own starts at the default
    (OMP_NUM_THREADS, else every core) until it calls set_threads itself; OpenBLAS's is global."""
    n = _integer(n, "threads")
    if n > _THREADS_MAX:
        raise Error(f"threads must be at most {_THREADS_MAX}, got {n}", 2)
    _lib.sm_threads_set(max(n, 0))


def get_threads():
    """Threads the library's OpenMP regions use."""
    return _lib.sm_threads_get()


# sm_est_kind and the inputs each kind takes, named as the CLI's options
_QUANTITIES = {"entropy": (0, ("x",)), "mi": (1, ("x", "y")), "nll": (2, ("z", "p"))}
_USES_KNN, _USES_RIDGE, _USES_MIXTURE, _HELD_OUT = 1, 2, 4, 8  # sm_estimator.uses
# `simsiam-mi estimate`'s ranges: (default, low, high), integers then reals
_OPTIONS = {"k": (3, 1, 10**6), "seed": (0, 0, 2**31 - 1), "components": (4, 1, 1000), "subsample": (0, 0, 100000),
            "noise": (0.0, 0.0, 1e300), "ridge": (0.0, 0.0, 1e300)}


def _row(kind, quantity, name):
    """The registry's row of kind named name (None: the kind's default), or Error as the CLI's."""
    found = None
    if name is None:
        found = _lib.sm_estimator_default(kind)
    elif isinstance(name, str) and "\0" not in name:
        found = _lib.sm_estimator_find(kind, name.encode())
    if not found:
        buf = ctypes.create_string_buffer(256)
        _lib.sm_estimator_choices(kind, buf, len(buf))
        what = "family" if quantity == "nll" else "estimator"
        raise Error(f"unknown {what} '{_printable(name)}' for {quantity} (choose {buf.value.decode()})", 2)
    return found.contents


def _applicable(quantity, e):
    """The options row e reads (with the inputs, as the CLI's check_applicable)."""
    names = {"seed", "subsample"} if quantity != "nll" else set()
    names |= {"k", "whiten", "noise"} if e.uses & _USES_KNN else set()
    names |= {"ridge"} if e.uses & _USES_RIDGE else set()
    return names | ({"components", "seed"} if e.uses & _USES_MIXTURE else set())


def _in_range(name, value):
    """An option's value within the CLI's range for it, or Error (code 2)."""
    default, low, high = _OPTIONS[name]
    integer = isinstance(default, int)
    if not integer and not isinstance(value, numbers.Real):  # float() would read "0.5" as 0.5
        raise TypeError(f"{name} must be a real number, got {_printable(repr(value))}")
    v = _integer(value, name) if integer else float(value)
    if not low <= v <= high:  # NaN fails too
        what = f"an integer in [{low}, {high}]" if integer else f"a number in [{low:g}, {high:g}]"
        raise Error(f"{name} must be {what}, got {value}", 2)
    if name == "subsample" and v == 1:
        raise Error("subsample needs at least 2 resamples", 2)
    return v


def estimate(quantity, x, y=None, estimator=None, k=3, whiten=False, noise=0.0, seed=0, ridge=0.0, components=4,
             subsample=0, family=None):
    """`simsiam-mi estimate QUANTITY`'s JSON line as a dict (the same keys and values), through the same
    registry of estimators.  quantity "entropy" (of x), "mi" (of x and y) or "nll" (of rows z = x given
    predictions p = y); estimator: its row, None for the default (kl, ksg1, full); for nll the family,
    also as family= (the dict's "family").  subsample=B (entropy, mi): the 95% subsampling interval of
    B halves, ci_low / ci_high / resamples; nll with family "vmf" adds the fitted "kappa".  As the CLI:
    an option the row does not read, given away from its default, is refused, the others must be in
    the CLI's ranges (code 2), and what the C estimator refuses once they are is the data's (code 1:
    k >= N, too few rows, duplicate samples, ...)."""
    if not isinstance(quantity, str) or quantity not in _QUANTITIES:
        raise Error(f"unknown quantity '{_printable(quantity)}' (choose entropy, mi or nll)", 2)
    kind, inputs = _QUANTITIES[quantity]
    if family is not None:
        if quantity != "nll" or estimator is not None:
            raise Error("family= names the nll family; use estimator= alone", 2)
        estimator = family
    e = _row(kind, quantity, estimator)
    name = e.name.decode()
    given = dict(k=k, noise=noise, seed=seed, ridge=ridge, components=components, subsample=subsample)
    reads = _applicable(quantity, e)
    _not_applicable(name, **{o: (v, _OPTIONS[o][0]) for o, v in given.items() if o not in reads},
                    **({} if "whiten" in reads else {"whiten": (whiten, False)}))
    opt = {o: _in_range(o, v) if o in reads else _OPTIONS[o][0] for o, v in given.items()}
    whiten = _flag(whiten, "whiten") if "whiten" in reads else False
    o = _EstOpts(k=opt["k"], prep=_Prep(int(whiten), opt["noise"], opt["seed"]), ridge=opt["ridge"],
                 components=opt["components"], seed=opt["seed"])
    b = opt["subsample"]
    if (y is None) != (len(inputs) == 1):
        raise Error(f"{quantity} takes {' and '.join(inputs)}", 2)
    x = _array(x, inputs[0])
    if y is not None:
        y = _array(y, inputs[1])
        (_same_shape if quantity == "nll" else _same_rows)(x, inputs[0], y, inputs[1])
    n = x.shape[0]
    if b and e.uses & _USES_KNN and o.k >= n // 2:
        raise Error(f"k = {o.k} must be below the rows of a subsample, N/2 = {n // 2} (subsamples of N/2 rows; "
                    f"{inputs[0]})", 1)
    out = {"quantity": quantity, "family" if quantity == "nll" else "estimator": name}
    if e.uses & _USES_KNN:
        out["k"] = o.k
    if e.uses & _USES_MIXTURE:
        out["components"] = o.components
    out.update({"n": n, "dx": x.shape[1], "dy": y.shape[1]} if quantity == "mi" else {"n": n, "d": x.shape[1]})
    yp, dy = (_ptr(y), y.shape[1]) if y is not None else (None, 0)
    r, v, t0 = _Resample(), ctypes.c_double(), time.perf_counter()
    if b:
        _call(_lib.sm_resample_subsample, _ptr(x), x.shape[1], yp, dy, n, b, o.seed, e.fn, ctypes.byref(o),
              ctypes.byref(r))
    else:
        _call(_ESTIMATOR_FN(e.fn), ctypes.byref(o), _ptr(x), x.shape[1], yp, dy, n, ctypes.byref(v))
        r.value = v.value
    what = "the mean NLL" if quantity == "nll" else "the estimate"
    out["value"] = _finite(r.value, what)
    if b:
        out.update(ci_low=_finite(r.ci_low, what), ci_high=_finite(r.ci_high, what), resamples=r.resamples)
    if name == "vmf":
        out["kappa"] = o.kappa
    if e.uses & _HELD_OUT:
        out["note"] = "held out: fitted on each half of the rows, scored on the other"
    out.update(unit="nats", seconds=time.perf_counter() - t0)
    return out


def entropy(x, k=3, estimator="kl", whiten=False, noise=0.0, seed=0, ridge=0.0):
    """Ĥ(x) in nats: `simsiam-mi estimate entropy`.  estimator "kl" (Kozachenko–Leonenko, k
    neighbours, optional whitening and jitter) or "gauss" (½ log det(2πe Σ), ridge on Σ).
    For a subsampling interval: estimate("entropy", x, subsample=B)."""
    return estimate("entropy", x, None, estimator, k, whiten, noise, seed, ridge)["value"]


def mi(x, y, k=3, estimator="ksg1", whiten=False, noise=0.0, seed=0, ridge=0.0):
    """Î(x; y) in nats: `simsiam-mi estimate mi`.  estimator "ksg1" or "ksg2" (Kraskov–Stögbauer–
    Grassberger, k neighbours, max norm; whiten maps x and y separately) or "gauss" (ridge on Σ).
    For a subsampling interval: estimate("mi", x, y, subsample=B)."""
    return estimate("mi", x, y, estimator, k, whiten, noise, seed, ridge)["value"]


def nll(z, p, family="full", components=4, seed=0):
    """E[−log Q(z; μ = p)] in nats, Q fitted by maximum likelihood: `simsiam-mi estimate nll`.
    family l2, iso, diag, full, vmf (κ: estimate("nll", z, p, "vmf")["kappa"]), or mix (a mixture
    of `components` Gaussians on z − p, seeded, held out: fitted on each half of the rows, scored
    on the other)."""
    return estimate("nll", z, p, family, components=components, seed=seed)["value"]


def bound(z1, z2, p1, family="full", k=3, noise=0.0, seed=0):
    """The chain E[NLL_Q] >= Ĥ(z2|z1), Î and the Barber–Agakov and InfoNCE bounds on I(z1; z2):
    `simsiam-mi estimate bound`'s JSON as a dict (the same keys; for vmf every entropy is on the
    sphere and "kappa" and "measure" are added).  KSG-1's blocks are whitened and the KL entropy is
    not, as in the tracker, whose row on the same arrays has the same values.  Options and errors as
    estimate()'s."""
    o = _ChainOpts(_bound_family(family), _in_range("k", k),
                   _Prep(0, _in_range("noise", noise), _in_range("seed", seed)))
    z1, z2, p1 = _array(z1, "z1"), _array(z2, "z2"), _array(p1, "p1")
    _same_shape(z2, "z2", z1, "z1")
    _same_shape(z2, "z2", p1, "p1")
    c = _Chain()
    n, d = z2.shape
    t0 = time.perf_counter()
    _call(_lib.sm_bound_chain_estimate, _ptr(z1), _ptr(z2), _ptr(p1), n, d, ctypes.byref(o), ctypes.byref(c))
    for term in (c.h_z2, c.nll, c.h_z2_given_z1, c.i_ksg, c.nce.value):
        _finite(term, "a bound term")
    out = {"quantity": "bound", "family": _lib.sm_nll_family_name(o.family).decode(), "k": o.k, "n": n, "d": d,
           "h_z2": c.h_z2, "nll": c.nll, "h_z2_given_z1": c.h_z2_given_z1, "gap": c.gap, "i_ksg": c.i_ksg,
           "ba": c.ba, "infonce": c.nce.value, "infonce_cap": c.nce.cap}
    if out["family"] == "vmf":
        out.update(kappa=c.kappa, measure="sphere")
    out.update(note="infonce never exceeds infonce_cap = log n", unit="nats", seconds=time.perf_counter() - t0)
    return out


# ---- the tracking row (track.csv) ----------------------------------------------------------------

_FILES = {"track": 0, "track_detail": 1}  # sm_track_file: track.csv, track_detail.csv
_KINDS = (ctypes.c_uint64, _size, ctypes.c_double)  # sm_track_kind: U64, SIZE, REAL (then DERIVED)
_NCOLUMNS = _size.in_dll(_lib, "SM_TRACK_NCOLUMNS").value
_COLUMNS = (_TrackColumn * _NCOLUMNS).in_dll(_lib, "SM_TRACK_COLUMNS")
_LINE_MAX = 4096  # SM_TRACK_LINE_MAX


def _file(name):
    if not isinstance(name, str) or name not in _FILES:
        raise Error(f"unknown file '{_printable(name)}' (choose track or track_detail)", 2)
    return _FILES[name]


class Tracker:
    """The trainer's tracking event on embeddings you computed: each call gives one row of
    track.csv (a dict, column -> value) from the same C code as `simsiam-mi train`'s tracker
    (sm_track_event): the NLL families, KL and KSG-1 entropies and MI (on the first max_dim
    principal coordinates), Gaussian, Barber–Agakov and InfoNCE values, z_std, with subsampling
    intervals in track_detail.csv.  Not shareable between threads (one workspace per Tracker)."""

    def __init__(self, k=3, max_dim=8, resamples=20, seed=0, mix=4, mlp=True):
        self._opts = _TrackOpts()
        _lib.sm_track_defaults(ctypes.byref(self._opts), _count(seed, "seed"))
        self._opts.k, self._opts.max_dim = _count(k, "k"), _count(max_dim, "max_dim")
        self._opts.resamples = _count(resamples, "resamples")
        self._opts.mix, self._opts.mlp = _count(mix, "mix"), int(_flag(mlp, "mlp"))
        self._ws = _Arena()  # reused by every event, as the trainer's tracker does
        st = _Status()
        self._row = _lib.sm_track_row_alloc(ctypes.byref(st))
        if not self._row:
            raise MemoryError(st.msg.decode())
        self.warning = ""

    def close(self):
        """Free the C row and workspace (also done when the Tracker is collected)."""
        if getattr(self, "_row", None):  # absent when __init__ failed
            _lib.sm_track_row_free(self._row)
            _lib.sm_arena_free(ctypes.byref(self._ws))
            self._row = None

    def __del__(self):
        self.close()

    def _check_open(self):
        if not getattr(self, "_row", None):  # the C row is gone: reading it would crash
            raise ValueError("Tracker is closed")

    def __call__(self, z1, z2, p1, zv=None, p2=None, step=0, detail=False):
        """One event.  z1, z2: n × d embeddings of two views of n probe images, p1 = h(z1) (and p2 =
        h(z2) for loss_cos, NaN without); zv: images × views × d, several views of a few images
        for Ĥ(z2|x) (its columns NaN without).  step goes to the row and, with the seed, seeds the
        subsampling.  Returns track.csv's columns (with detail=True track_detail.csv's too).
        NaN or Inf in an input is an Error (code 1) naming it and where.  An estimator that cannot
        run leaves NaN and its message in self.warning (also warned).
        A call that raises leaves the row as the last successful event left it.  The trainer's
        tracker derives its subsampling seed from the run's seed, so Tracker(seed=S) reproduces a
        run's point estimates but not its intervals (*_lo, *_hi), nll_mix or h_z_given_z1_width."""
        self._check_open()
        z1, z2, p1 = _array(z1, "z1"), _array(z2, "z2"), _array(p1, "p1")
        _same_shape(z1, "z1", z2, "z2")
        _same_shape(z1, "z1", p1, "p1")
        n, d = z1.shape
        s = _TrackSample(_ptr(z1), _ptr(z2), _ptr(p1), None, n, d, None, 0, 0)
        if p2 is not None:
            p2 = _array(p2, "p2")
            _same_shape(z1, "z1", p2, "p2")
            s.p2 = _ptr(p2)
        if zv is not None:
            zv = _array(zv, "zv", ndim=3)
            if zv.shape[2] != d:
                raise Error(f"column counts differ: {d} in z1, {zv.shape[2]} in zv", 1)
            s.zv, s.images, s.views = _ptr(zv), zv.shape[0], zv.shape[1]
        st = _Status()
        rc = _lib.sm_track_event(ctypes.byref(s), ctypes.byref(self._opts), _count(step, "step"), self._row,
                                 ctypes.byref(self._ws), ctypes.byref(st))
        if rc:
            raise Error(st.msg.decode("utf-8", "replace"), rc)
        self.warning = _lib.sm_track_warning(self._row).decode("utf-8", "replace")
        if self.warning:
            warnings.warn(f"tracking at step {int(step)}: {self.warning}", RuntimeWarning, stacklevel=2)
        return self.row(detail)

    def row(self, detail=False):
        """The last event's columns of track.csv (and track_detail.csv), full precision."""
        self._check_open()
        mask = 1 << _FILES["track"] | (1 << _FILES["track_detail"] if _flag(detail, "detail") else 0)
        out = {}
        for c in _COLUMNS:
            if not c.files & mask:
                continue
            derived = c.kind == len(_KINDS)  # SM_TRACK_DERIVED: computed from the row's other values
            value = c.derive(self._row) if derived else _KINDS[c.kind].from_address(self._row + c.offset).value
            out[c.name.decode()] = value
        return out

    @staticmethod
    def csv_header(file="track"):
        """The header line of track.csv or track_detail.csv (file="track_detail"), with its newline."""
        buf = ctypes.create_string_buffer(_LINE_MAX)
        _lib.sm_track_header(_file(file), buf, _LINE_MAX)
        return buf.value.decode()

    def csv_row(self, file="track"):
        """The last event's line, formatted as the trainer writes it, with a newline: append it
        under csv_header(file) and `make plots RUN=DIR` reads the file as a run's."""
        self._check_open()
        buf = ctypes.create_string_buffer(_LINE_MAX)
        _lib.sm_track_format(self._row, _file(file), buf, _LINE_MAX)
        return buf.value.decode() + "\n"
