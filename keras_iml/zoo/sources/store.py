"""Where model files come from: local source, sibling folders, a user cache, downloads.

Search order for a file a model description names (``arch``, ``weights``):

1. the local path given in the description, relative to the model's directory;
2. the folders beside the source (the layout of ``../shared/zoo``):
   ``<source>/../weights/<model name>/`` (with ``<source>/../weights/MANIFEST.tsv``
   naming each file and its md5) and, for DeepBind,
   ``<source>/../deepbind/params/<ID>.txt``;
3. the user cache, ``~/.cache/keras_iml`` (``KERAS_IML_CACHE`` moves it):
   ``files/<model name>/<arg><ext>`` and ``deepbind/params/<ID>.txt``;
4. the URL in the description, unless offline (argument ``offline=True`` or the
   environment variable ``KERAS_IML_OFFLINE=1``). Downloads go to a temporary file in
   the cache, are verified by md5 and only then renamed into place, so the cache
   never holds a partial or wrong file.

Every file found is checked against the md5 that applies to it (the manifest's for
sibling folders, since e.g. FactorNet's files come from the authors' release, not
Zenodo; else the description's). A missing file raises
:class:`~keras_iml.zoo.sources.errors.WeightsUnavailableError` naming the file, its
md5 and the exact path to place it at.
"""

import csv
import hashlib
import os
import pathlib
import tempfile
import urllib.error
import urllib.request

from keras_iml.zoo.sources.errors import ChecksumError, WeightsUnavailableError

__all__ = ["WeightStore", "md5sum", "default_cache_dir"]

_TRUE = ("1", "true", "yes", "on")


def md5sum(path, chunk=1 << 20):
    """The md5 hex digest of a file."""
    digest = hashlib.md5()  # noqa: S324 - checksum, not security
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir():
    """``$KERAS_IML_CACHE`` or ``~/.cache/keras_iml``."""
    return pathlib.Path(os.environ.get("KERAS_IML_CACHE") or pathlib.Path.home() / ".cache" / "keras_iml")


def _safe_rel(name):
    parts = [p for p in str(name).replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return pathlib.Path(*parts)


class WeightStore:
    """Finds, verifies and downloads model files.

    Args:
        source: the Kipoi source directory (laid out like kipoi/models), or None.
        cache_dir: the user cache (default :func:`default_cache_dir`).
        offline: never download (default: ``KERAS_IML_OFFLINE``).
        deepbind_params: an extra directory of DeepBind ``<ID>.txt`` files (default:
            ``KERAS_IML_DEEPBIND_PARAMS``).

    Example:
        >>> store = WeightStore("shared/zoo/kipoi-models", offline=True)
        >>> store.deepbind_params("D00328.018")
        PosixPath('shared/zoo/deepbind/params/D00328.018.txt')
    """

    def __init__(self, source=None, cache_dir=None, offline=None, deepbind_params=None):
        self.source = pathlib.Path(source) if source is not None else None
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if offline is None:
            offline = os.environ.get("KERAS_IML_OFFLINE", "").strip().lower() in _TRUE
        self.offline = bool(offline)
        extra = deepbind_params or os.environ.get("KERAS_IML_DEEPBIND_PARAMS")
        self.deepbind_dir = pathlib.Path(extra) if extra else None
        self._manifest = None

    # -- sibling folders ----------------------------------------------------------------
    @property
    def sibling_root(self):
        return self.source.parent if self.source is not None else None

    def manifest(self):
        """``{(model, arg): (path, md5)}`` from ``<source>/../weights/MANIFEST.tsv``."""
        if self._manifest is None:
            self._manifest = {}
            path = self.sibling_root / "weights" / "MANIFEST.tsv" if self.sibling_root else None
            if path is not None and path.is_file():
                with open(path, newline="", encoding="utf-8") as handle:
                    for row in csv.DictReader(handle, delimiter="\t"):
                        file_path = self.sibling_root / "weights" / _safe_rel(
                            row["file"].split("weights/", 1)[-1])
                        self._manifest[(row["model"], row["arg"])] = (file_path, row.get("md5") or None)
        return self._manifest

    def cache_path(self, name, arg, extension):
        """Where the cache keeps a model's file."""
        return self.cache_dir / "files" / _safe_rel(name) / f"{arg}{extension}"

    # -- lookups ------------------------------------------------------------------------
    def fetch(self, spec, arg):
        """The local path of a model file, searching, verifying and downloading.

        Args:
            spec: a :class:`~keras_iml.zoo.sources.spec.ModelSpec`.
            arg: ``"arch"`` or ``"weights"``.

        Returns:
            ``(path, md5)``: a verified local file and the md5 it matched (or None when
            no md5 is known).
        """
        ref = spec.files.get(arg)
        if ref is None:
            raise ValueError(f"Model {spec.name!r} declares no {arg!r} file.")
        searched = []
        if ref.path:
            local = spec.model_dir / _safe_rel(ref.path)
            searched.append(local)
            if local.is_file():
                return self._verified(local, ref.md5, spec.name, arg)
        entry = self.manifest().get((spec.name, arg))
        if entry is not None:
            searched.append(entry[0])
            if entry[0].is_file():
                return self._verified(entry[0], entry[1], spec.name, arg)
        cached = self.cache_path(spec.name, arg, ref.extension)
        searched.append(cached)
        if cached.is_file():
            return self._verified(cached, ref.md5, spec.name, arg)
        return self._download(ref.url, cached, ref.md5, f"{spec.name} ({arg})", searched), ref.md5

    def deepbind_params(self, model_id, md5=None, url=None):
        """The path of DeepBind's parameter file ``<model_id>.txt``.

        Args:
            model_id: e.g. ``"D00328.018"``.
            md5: expected md5 (from the catalogue), checked when given.
            url: optional download URL (default: ``KERAS_IML_DEEPBIND_URL`` formatted
                with ``id``), used only online.
        """
        fname = f"{model_id}.txt"
        folders = [self.deepbind_dir] if self.deepbind_dir else []
        if self.sibling_root is not None:
            folders.append(self.sibling_root / "deepbind" / "params")
        cached = self.cache_dir / "deepbind" / "params" / fname
        folders.append(cached.parent)
        searched = [folder / fname for folder in folders]
        for path in searched:
            if path.is_file():
                return self._verified(path, md5, model_id, "params")[0]
        template = url or os.environ.get("KERAS_IML_DEEPBIND_URL")
        link = template.format(id=model_id) if template else None
        return self._download(link, cached, md5, f"DeepBind parameters {fname}", searched)

    # -- helpers ------------------------------------------------------------------------
    def _verified(self, path, md5, name, arg):
        if md5:
            got = md5sum(path)
            if got != md5:
                raise ChecksumError(
                    f"md5 mismatch for {name} ({arg}) at {os.fspath(path)!r}: expected {md5}, "
                    f"received {got}. Replace the file with the published one.")
        return pathlib.Path(path), md5

    def _unavailable(self, what, target, md5, searched, why):
        places = ", ".join(os.fspath(p) for p in searched)
        checksum = f" (md5 {md5})" if md5 else ""
        return WeightsUnavailableError(
            f"{why} {what} is not available. Place the file{checksum} at {os.fspath(target)!r}. "
            f"Searched: {places}.")

    def _download(self, url, target, md5, what, searched):
        if self.offline:
            raise self._unavailable(what, target, md5, searched, "Offline mode:")
        if not url:
            raise self._unavailable(what, target, md5, searched, "No download URL is known:")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
            got = md5sum(tmp)
            if md5 and got != md5:
                raise ChecksumError(
                    f"md5 mismatch for {what} downloaded from {url}: expected {md5}, received "
                    f"{got}. Nothing was kept in the cache.")
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError) as err:
            raise self._unavailable(what, target, md5, searched,
                                    f"Download from {url} failed ({err}):") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return target
