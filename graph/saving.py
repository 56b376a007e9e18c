"""Params on disk: an ``.npz`` file (one ``.npy`` member per param), written atomically, read warily."""
import contextlib
import os
import tempfile
import zipfile

import numpy as np

from gates.base import computed_dtype, dtype_refusal

_format = np.lib.format


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path, what="params"):
    """A binary file to write that lands at exactly ``path`` only when the block ends without an
    error: readers see the old file or the new one, never half of one, and a failure leaves the old."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save {what} to {path!r}: it is a folder; give a file name")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {what} to {path!r}: the folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".gategraph-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_atomically(path, data, what="the page"):
    """``data`` (bytes) written to ``path`` through `atomic_file`."""
    with atomic_file(path, what) as f:
        f.write(data)


def save(params, path):
    """Write ``params`` (name -> array) to the ``.npz`` file at exactly ``path``, atomically.

    Members are written one by one rather than through ``numpy.savez(**params)``,
    whose own keywords (``file``, ``allow_pickle``) would collide with param names.
    """
    with atomic_file(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        for name, array in params.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                _format.write_array(member, np.asarray(array), allow_pickle=False)


def _header(member):
    """(shape, fortran_order, dtype) from a member's ``.npy`` header, reading no data."""
    version = _format.read_magic(member)
    if version == (1, 0):
        return _format.read_array_header_1_0(member)
    if version == (2, 0):
        return _format.read_array_header_2_0(member)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_member(archive, info, param):
    """The member's array, checked against ``param`` before its data is read."""
    with archive.open(info) as member:
        try:
            shape, fortran, dtype = _header(member)
        except (ValueError, EOFError) as error:
            raise ValueError(f"is not a readable .npy array (truncated, or not written by save): {error}") from None
        if dtype.hasobject:
            raise ValueError("it holds Python objects, which only pickle could read (load never allows it)")
        if shape != param.shape:
            raise ValueError(f"{shape} in the file, {param.shape} in the graph (shapes differ)")
        if computed_dtype(dtype) is None:
            raise ValueError(dtype_refusal("the array in the file", dtype, shape))
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = member.read(size)
        if len(data) != size:
            raise ValueError(f"truncated: {len(data)} of its {size} bytes of data are in the file")
        array = np.frombuffer(data, dtype=dtype)
    array = array.reshape(shape, order="F" if fortran else "C")
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(param.dtype)
    if not np.isfinite(converted).all():
        raise ValueError(f"values that are NaN, inf or too large for {param.dtype}")
    return converted


def load(params, path):
    """Read params saved by `save` into the arrays of ``params`` in place; all or nothing.

    Refuses (ValueError, changing nothing) files that are not ``.npz``, members
    that need pickle, unknown or missing names, other shapes, non-numeric or
    non-finite data, and read-only params. Each member's header is checked
    before its data is read, so a small hostile file cannot ask for a huge array.
    """
    path = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: refused: not an .npz file of params ({error})") from None
    with archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        unknown = sorted(set(members) - set(params))
        missing = sorted(set(params) - set(members))
        problems = ([f"unknown params {unknown}"] if unknown else []) + \
                   ([f"missing params {missing}"] if missing else [])
        frozen = [name for name, array in params.items() if not array.flags.writeable]
        if frozen:
            problems.append(f"read-only params {frozen}")
        loaded = {}
        if not problems:
            for name, info in members.items():
                try:
                    loaded[name] = _read_member(archive, info, params[name])
                except (ValueError, EOFError, zipfile.BadZipFile, OSError) as error:
                    problems.append(f"{name}: {error}")
    if problems:
        raise ValueError(f"{path}: refused, nothing loaded: " + "; ".join(problems))
    for name, array in loaded.items():
        params[name][...] = array
