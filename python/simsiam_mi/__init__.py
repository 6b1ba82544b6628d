"""simsiam-mi's estimators and tracking row, from Python (README.md, "Use from Python").

A thin ctypes layer over the C library libsimsiam-mi.so: every value comes from
the same C functions as `simsiam-mi estimate ...` and the trainer's tracker, so
they agree with them exactly.  Arrays are anything numpy.asarray takes (float32
or float64, C- or Fortran-ordered: copied to row-major float64 as the CLI reads
.npy files), and torch tensors (through .detach().cpu().numpy(); torch itself
is never imported).  Rows are samples; a 1-D array is one column.  Values are
in nats.  Bad input raises simsiam_mi.Error (a ValueError) with a one-line message and .code 1 for
the data (shapes, NaN, a non-finite result), 2 for the call (unknown names, options that do not
apply, counts out of range); a C error carries the C function's message and status, in which a
k >= N or too few rows or columns is 2 where the CLI, which checks k against its file, exits with 1.

The values are the CLI's bit for bit when both run on the same OpenBLAS kernel: the CLI runs itself
again with OPENBLAS_CORETYPE set on a CPU OpenBLAS does not recognise (README, "Speed"); the module
does not, so set OPENBLAS_CORETYPE before importing it for the same last bits there.

The library is found through, in order: $SIMSIAM_MI_LIB; build/libsimsiam-mi.so
of the repository this file sits in (PYTHONPATH=python from a built checkout);
the dynamic linker's search (an installed copy, `make install`).
"""
import ctypes
import ctypes.util
import operator
import os
import time
import warnings

import numpy as np

__version__ = "0.1.0"  # src/cli/cli.h's SM_VERSION (python/tests check they agree)
__all__ = ["Error", "entropy", "mi", "nll", "bound", "Tracker", "set_threads", "get_threads"]


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


class _EntropyOpts(ctypes.Structure):
    _fields_ = [("k", _size), ("sphere", ctypes.c_int), ("prep", _Prep)]


class _MiOpts(ctypes.Structure):
    _fields_ = [("k", _size), ("norm", ctypes.c_int), ("sphere", ctypes.c_int), ("prep", _Prep)]


class _Ksg1(ctypes.Structure):
    _fields_ = [("mi", ctypes.c_double), ("h_y_given_x", ctypes.c_double), ("h_y", ctypes.c_double)]


class _MixOpts(ctypes.Structure):
    _fields_ = [("components", _size), ("starts", _size), ("max_iter", _size), ("tol", ctypes.c_double),
                ("ridge", ctypes.c_double), ("seed", ctypes.c_uint64)]


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
    "sm_entropy_kl": (ctypes.c_int, [_dptr, _size, _size, _P(_EntropyOpts), _dptr, _AR, _ST]),
    "sm_gauss_entropy": (ctypes.c_int, [_dptr, _size, _size, ctypes.c_double, _dptr, _AR, _ST]),
    "sm_mi_ksg1": (ctypes.c_int, [_dptr, _dptr, _size, _size, _size, _P(_MiOpts), _P(_Ksg1), _AR, _ST]),
    "sm_mi_ksg2": (ctypes.c_int, [_dptr, _dptr, _size, _size, _size, _P(_MiOpts), _dptr, _AR, _ST]),
    "sm_gauss_mi": (ctypes.c_int, [_dptr, _dptr, _size, _size, _size, ctypes.c_double, _dptr, _AR, _ST]),
    "sm_nll_family_parse": (ctypes.c_int, [ctypes.c_char_p, _P(ctypes.c_int), _ST]),
    "sm_nll_family_name": (ctypes.c_char_p, [ctypes.c_int]),
    "sm_nll_mean": (ctypes.c_int, [ctypes.c_int, _dptr, _dptr, _size, _size, _dptr, _AR, _ST]),
    "sm_mix_defaults": (None, [_P(_MixOpts), ctypes.c_uint64]),
    "sm_mix_nll_crossfit": (ctypes.c_int, [_dptr, _dptr, _size, _size, _P(_MixOpts), _dptr, _AR, _ST]),
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


def _call(fn, *args):
    """fn(*args, workspace, status) with a fresh workspace; Error on failure."""
    ws, st = _Arena(), _Status()
    try:
        rc = fn(*args, ctypes.byref(ws), ctypes.byref(st))
    finally:
        _lib.sm_arena_free(ctypes.byref(ws))
    if rc:
        raise Error(st.msg.decode("utf-8", "replace"), rc)


# ---- arrays --------------------------------------------------------------------------------------

def _array(a, name, ndim=2):
    """a as a row-major float64 array of ndim dimensions (1-D: one column)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor, without importing torch
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise Error(f"{name}: expected real numbers, got dtype {a.dtype}", 1)
    if ndim == 2 and a.ndim == 1:
        a = a[:, None]
    if a.ndim != ndim:
        raise Error(f"{name}: expected a {ndim}-D array (rows are samples), got shape {a.shape}", 1)
    return np.ascontiguousarray(a, dtype=np.float64)


def _ptr(a):
    return a.ctypes.data_as(_dptr)


def _same_rows(a, name_a, b, name_b):
    if a.shape[0] != b.shape[0]:
        raise Error(f"row counts differ: {a.shape[0]} in {name_a}, {b.shape[0]} in {name_b}", 1)


def _same_shape(a, name_a, b, name_b):
    _same_rows(a, name_a, b, name_b)
    if a.shape[1] != b.shape[1]:
        raise Error(f"column counts differ: {a.shape[1]} in {name_a}, {b.shape[1]} in {name_b}", 1)


def _count(value, name):
    """A count or seed for a uint64_t or size_t C field, which ctypes would take modulo 2**64 without a
    word (-1 as 2**64 - 1, 2**64 + 3 as 3); an integer (operator.index: 3.7 and "3" are TypeErrors)."""
    v = operator.index(value)
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


def _prep(whiten, noise, seed):
    return _Prep(1 if whiten else 0, float(noise), _count(seed, "seed"))


def _family(name):
    f = ctypes.c_int()
    st = _Status()
    rc = _lib.sm_nll_family_parse(str(name).encode(), ctypes.byref(f), ctypes.byref(st))
    if rc:
        raise Error(st.msg.decode("utf-8", "replace"), rc)
    return f.value


# ---- the estimators (`simsiam-mi estimate`) ------------------------------------------------------

_THREADS_MAX = 1024  # the CLI's --threads range; libgomp crashes when it cannot start that many


def set_threads(n):
    """Threads for OpenMP and OpenBLAS, as the CLI's --threads (n <= 0: every core; at most 1024).
    OpenMP keeps the setting per calling thread: a Python thread of its own starts at the default
    (OMP_NUM_THREADS, else every core) until it calls set_threads itself; OpenBLAS's is global."""
    n = operator.index(n)
    if n > _THREADS_MAX:
        raise Error(f"threads must be at most {_THREADS_MAX}, got {n}", 2)
    _lib.sm_threads_set(max(n, 0))


def get_threads():
    """Threads the library's OpenMP regions use."""
    return _lib.sm_threads_get()


def entropy(x, k=3, estimator="kl", whiten=False, noise=0.0, seed=0, ridge=0.0):
    """Ĥ(x) in nats: `simsiam-mi estimate entropy`.  estimator "kl" (Kozachenko–Leonenko, k
    neighbours, optional whitening and jitter) or "gauss" (½ log det(2πe Σ), ridge on Σ)."""
    x = _array(x, "x")
    h = ctypes.c_double()
    if estimator == "kl":
        _not_applicable("kl", ridge=(ridge, 0.0))
        o = _EntropyOpts(_count(k, "k"), 0, _prep(whiten, noise, seed))
        _call(_lib.sm_entropy_kl, _ptr(x), x.shape[0], x.shape[1], ctypes.byref(o), ctypes.byref(h))
    elif estimator == "gauss":
        _not_applicable("gauss", k=(k, 3), whiten=(whiten, False), noise=(noise, 0.0), seed=(seed, 0))
        _call(_lib.sm_gauss_entropy, _ptr(x), x.shape[0], x.shape[1], float(ridge), ctypes.byref(h))
    else:
        raise Error(f"unknown estimator '{estimator}' for entropy (choose kl or gauss)", 2)
    return _finite(h.value, "the estimate")


def mi(x, y, k=3, estimator="ksg1", whiten=False, noise=0.0, seed=0, ridge=0.0):
    """Î(x; y) in nats: `simsiam-mi estimate mi`.  estimator "ksg1" or "ksg2" (Kraskov–Stögbauer–
    Grassberger, k neighbours, max norm; whiten maps x and y separately) or "gauss" (ridge on Σ)."""
    x, y = _array(x, "x"), _array(y, "y")
    _same_rows(x, "x", y, "y")
    args = (_ptr(x), _ptr(y), x.shape[0], x.shape[1], y.shape[1])
    v = ctypes.c_double()
    if estimator in ("ksg1", "ksg2"):
        _not_applicable(estimator, ridge=(ridge, 0.0))
        o = _MiOpts(_count(k, "k"), 0, 0, _prep(whiten, noise, seed))
        if estimator == "ksg1":
            r = _Ksg1()
            _call(_lib.sm_mi_ksg1, *args, ctypes.byref(o), ctypes.byref(r))
            v.value = r.mi
        else:
            _call(_lib.sm_mi_ksg2, *args, ctypes.byref(o), ctypes.byref(v))
    elif estimator == "gauss":
        _not_applicable("gauss", k=(k, 3), whiten=(whiten, False), noise=(noise, 0.0), seed=(seed, 0))
        _call(_lib.sm_gauss_mi, *args, float(ridge), ctypes.byref(v))
    else:
        raise Error(f"unknown estimator '{estimator}' for mi (choose ksg1, ksg2 or gauss)", 2)
    return _finite(v.value, "the estimate")


def nll(z, p, family="full", components=4, seed=0):
    """E[−log Q(z; μ = p)] in nats, Q fitted by maximum likelihood: `simsiam-mi estimate nll`.
    family l2, iso, diag, full, vmf, or mix (a mixture of `components` Gaussians on z − p, seeded,
    held out: fitted on each half of the rows, scored on the other)."""
    z, p = _array(z, "z"), _array(p, "p")
    _same_shape(z, "z", p, "p")
    v = ctypes.c_double()
    if family == "mix":
        o = _MixOpts()
        _lib.sm_mix_defaults(ctypes.byref(o), _count(seed, "seed"))
        o.components = _count(components, "components")
        _call(_lib.sm_mix_nll_crossfit, _ptr(z), _ptr(p), z.shape[0], z.shape[1], ctypes.byref(o), ctypes.byref(v))
    else:
        try:
            f = _family(family)
        except Error:
            raise Error(f"unknown family '{family}' for nll (choose l2, iso, diag, full, vmf or mix)", 2) from None
        _not_applicable(f"the {family} family", components=(components, 4), seed=(seed, 0))
        _call(_lib.sm_nll_mean, f, _ptr(z), _ptr(p), z.shape[0], z.shape[1], ctypes.byref(v))
    return _finite(v.value, "the mean NLL")


def bound(z1, z2, p1, family="full", k=3, whiten=False, noise=0.0, seed=0):
    """The chain E[NLL_Q] >= Ĥ(z2|z1), Î and the Barber–Agakov and InfoNCE bounds on I(z1; z2):
    `simsiam-mi estimate bound`'s JSON as a dict (the same keys; for vmf every entropy is on the
    sphere and "kappa" and "measure" are added)."""
    z2 = _array(z2, "z2")
    z1, p1 = _array(z1, "z1"), _array(p1, "p1")
    _same_shape(z2, "z2", z1, "z1")
    _same_shape(z2, "z2", p1, "p1")
    o = _ChainOpts(_family(family), _count(k, "k"), _prep(whiten, noise, seed))
    c = _Chain()
    n, d = z2.shape
    t0 = time.perf_counter()
    _call(_lib.sm_bound_chain_estimate, _ptr(z1), _ptr(z2), _ptr(p1), n, d, ctypes.byref(o), ctypes.byref(c))
    for term in (c.h_z2, c.nll, c.h_z2_given_z1, c.i_ksg, c.nce.value):
        _finite(term, "a bound term")
    out = {"quantity": "bound", "family": _lib.sm_nll_family_name(o.family).decode(), "k": int(k), "n": n, "d": d,
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
    if name not in _FILES:
        raise Error(f"unknown file '{name}' (choose track or track_detail)", 2)
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
        self._opts.mix, self._opts.mlp = _count(mix, "mix"), 1 if mlp else 0
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
        An estimator that cannot run leaves NaN and its message in self.warning (also warned).
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
        mask = 1 << _FILES["track"] | (1 << _FILES["track_detail"] if detail else 0)
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
