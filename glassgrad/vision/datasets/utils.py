"""Finding, downloading, checking and extracting dataset files.

Where datasets are looked for: the ``root`` a dataset is given, then the folder named by the
environment variable ``GLASSGRAD_DATA`` (laid out like the shared ``datasets/`` folder:
``fashion-mnist/``, ``cifar10-jpeg.tar.gz``, ``cifar-10-batches-py/`` ...). Derived files (decoded
image arrays) are cached under ``GLASSGRAD_CACHE``, else ``$XDG_CACHE_HOME/glassgrad``, else
``~/.cache/glassgrad``.
"""

import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile

from tqdm.auto import tqdm

DOWNLOAD_TIMEOUT_S = 20


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are neither where they were looked for nor downloadable."""


def data_dir():
    """The folder named by ``GLASSGRAD_DATA``, or None."""
    path = os.environ.get("GLASSGRAD_DATA")
    return os.path.expanduser(path) if path else None


def cache_dir(*parts):
    """A folder for derived files: ``GLASSGRAD_CACHE`` or ``~/.cache/glassgrad``, created on demand."""
    base = os.environ.get("GLASSGRAD_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "glassgrad")
    path = os.path.join(os.path.expanduser(base), *parts)
    os.makedirs(path, exist_ok=True)
    return path


def file_digest(path, algorithm="md5", chunk_size=1 << 20):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def check_integrity(path, md5=None):
    """True if ``path`` exists and (when given) its MD5 is ``md5``."""
    if not os.path.isfile(path):
        return False
    return md5 is None or file_digest(path, "md5") == md5


def download_url(url, root, filename=None, md5=None, what="dataset"):
    """Fetch ``url`` into ``root/filename`` with a progress bar, then check its MD5.

    Fails at once where there is no network, with a ``DatasetNotFoundError`` that says which file
    was wanted and how to put it in place by hand. A partial download never takes the final name.
    """
    filename = filename or os.path.basename(url)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, filename)
    if check_integrity(path, md5):
        return path
    partial = path + ".part"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "glassgrad"})
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=filename) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as error:
        if os.path.exists(partial):
            os.remove(partial)
        reason = getattr(error, "reason", error)
        raise DatasetNotFoundError(
            f"{what}: could not download {url} ({reason}). Wanted file: {filename}"
            + (f" (md5 {md5})" if md5 else "")
            + f". To place it by hand: fetch {url} on a machine with network and copy it to {path}"
        ) from error
    if md5 is not None and file_digest(partial, "md5") != md5:
        got = file_digest(partial, "md5")
        os.remove(partial)
        raise RuntimeError(
            f"{what}: the download of {url} has md5 {got}, not the published {md5}; the file was deleted. "
            "Try again (a proxy may have altered it), or fetch it by hand and check it"
        )
    os.replace(partial, path)
    return path


def extract_archive(from_path, to_path=None, remove_finished=False):
    """Unpack a .tar(.gz/.bz2/.xz), .tgz, .zip or single-file .gz archive into ``to_path``."""
    to_path = to_path or os.path.dirname(from_path)
    name = from_path.lower()
    try:
        if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")):
            with tarfile.open(from_path) as tar:
                _extract_tar(tar, from_path, to_path)
        elif name.endswith(".zip"):
            with zipfile.ZipFile(from_path) as z:
                for info in z.infolist():
                    _inside(from_path, to_path, info.filename)
                z.extractall(to_path)
        elif name.endswith(".gz"):
            target = os.path.join(to_path, os.path.basename(from_path)[:-3])
            with gzip.open(from_path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            raise ValueError(
                f"extract_archive: unknown archive type for {from_path} (expected .tar.gz, .tgz, .zip or .gz)"
            )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, gzip.BadGzipFile) as error:
        raise RuntimeError(
            f"extract_archive: {from_path} is truncated or corrupted ({error}); delete it and fetch it again"
        ) from error
    if remove_finished:
        os.remove(from_path)
    return to_path


def _inside(archive, root, member):
    """``root/member`` resolved (links followed) after checking it stays inside ``root``."""
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, member))
    if os.path.isabs(member) or os.path.commonpath([base, target]) != base:
        raise RuntimeError(
            f"extract_archive: {archive} has a member {member!r} that would be written outside {root}; "
            "refusing to extract it (the archive is hostile or broken): delete it and fetch it again"
        )
    return target


def _extract_tar(tar, archive, root):
    """Only directories and regular files, each checked to land inside ``root``, written one by one.

    Links are refused outright: dataset archives hold none, and links are how a member escapes
    (whatever ``tarfile``'s own filters say, which differ between Python patch releases).
    """
    os.makedirs(root, exist_ok=True)
    for member in tar:
        if not (member.isdir() or member.isfile()):
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise RuntimeError(
                f"extract_archive: {archive} has a {kind} member {member.name!r}; dataset archives hold only "
                "files and folders, so it is refused (hostile or broken archive): delete it and fetch it again"
            )
        target = _inside(archive, root, member.name)
        if member.isdir():
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _inside(archive, root, os.path.relpath(os.path.dirname(target), os.path.realpath(root)))
        source = tar.extractfile(member)
        # O_NOFOLLOW: a link planted at the target after the check is not followed either.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with source, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)


def download_and_extract_archive(url, download_root, extract_root=None, filename=None, md5=None, what="dataset"):
    path = download_url(url, download_root, filename, md5, what)
    return extract_archive(path, extract_root or download_root)
