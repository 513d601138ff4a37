"""Download source packages into a scratch folder, without installing anything on the system.

Every function is idempotent: a package already in the scratch folder is not fetched again, so a
re-build works offline once the scratch folder is filled. Versions are returned so the datasheet
can name exactly what the data came from.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

# Downloads are a cache: they live with the project's other caches, not beside the shipped data.
SCRATCH = Path(os.environ.get("MOTE_DATA_SCRATCH", Path(__file__).resolve().parents[3] / ".cache" / "data-build-scratch"))


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-2000:]}")
    return result.stdout


def _apt_options(scratch: Path) -> list[str]:
    # Private lists and cache folders: the system's apt state is neither read nor changed.
    lists, cache = scratch / "apt" / "lists", scratch / "apt" / "cache"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    return ["-q", f"-o=Dir::State::Lists={lists}", f"-o=Dir::Cache={cache}", "-o=Acquire::Languages=en"]


def apt_lists(scratch: Path = SCRATCH) -> Path:
    """Fetch Debian's package index (Packages + Translation-en) once; return the lists folder."""
    lists = scratch / "apt" / "lists"
    if not glob.glob(str(lists / "*_main_binary-amd64_Packages*")):
        _run(["apt-get", *_apt_options(scratch), "update"])
    return lists


def read_apt_list(path: Path) -> str:
    """Decompress an apt list file (lz4/gz/xz/plain) with apt's own helper."""
    return _run(["/usr/lib/apt/apt-helper", "cat-file", str(path)])


def apt_package(name: str, scratch: Path = SCRATCH) -> tuple[Path, str]:
    """Download one .deb with `apt-get download` and unpack it; return (unpacked root, version)."""
    debs = scratch / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        apt_lists(scratch)
        _run(["apt-get", *_apt_options(scratch), "download", name], cwd=debs)
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    version = _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
    root = scratch / "unpacked" / name
    if not root.exists():
        tmp = root.with_name(root.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        _run(["dpkg-deb", "-x", str(deb), str(tmp)])
        tmp.rename(root)
    return root, version


def pip_package(name: str, scratch: Path = SCRATCH, version: str | None = None) -> tuple[Path, str]:
    """Download a PyPI distribution (--no-deps) and unpack it; return (unpacked root, version)."""
    dl = scratch / "pypi"
    dl.mkdir(parents=True, exist_ok=True)
    spec = f"{name}=={version}" if version else name
    stem = name.replace("-", "_").lower()

    def downloaded() -> list[Path]:
        return [p for p in sorted(dl.iterdir()) if p.name.lower().replace("-", "_").startswith(stem + "_")]

    found = downloaded()
    if not found:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dl), spec])
        found = downloaded()
    archive = found[-1]
    got_version = archive.name[len(stem) + 1 :].split("-")[0].removesuffix(".tar.gz").removesuffix(".zip")
    root = scratch / "unpacked" / f"pypi-{name}"
    if not root.exists():
        tmp = root.with_name(root.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")
        tmp.rename(root)
    return root, got_version


def npm_package(name: str, scratch: Path = SCRATCH) -> tuple[Path, str]:
    """`npm pack` a package from the npm registry and unpack it; return (package folder, version)."""
    dl = scratch / "npm"
    dl.mkdir(parents=True, exist_ok=True)
    found = sorted(dl.glob(f"{name}-*.tgz"))
    if not found:
        out = _run(["npm", "pack", name, "--json", "--silent"], cwd=dl)
        found = [dl / json.loads(out)[0]["filename"]]
    tgz = found[-1]
    version = tgz.name[len(name) + 1 : -len(".tgz")]
    root = scratch / "unpacked" / f"npm-{name}"
    if not root.exists():
        tmp = root.with_name(root.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tf:
            tf.extractall(tmp, filter="data")
        tmp.rename(root)
    return root / "package", version
