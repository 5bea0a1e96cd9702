"""Import from files uploaded in the browser: same readers, checks and messages as the CLI."""

from __future__ import annotations

import copy
import io
import tempfile
import zipfile
import zlib
from pathlib import Path

from judge_app.errors import DiskFull, JudgeAppError, ValidationError, is_disk_full
from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import ImportReport, import_bundle
from judge_app.storage.db import Database

MAX_UNPACKED_BYTES = 2 * 1024**3


def _extract(data: bytes, root: Path, name: str = "upload.zip") -> None:
    """Unpack a zip, refusing members that would land outside ``root``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise ValidationError("not a zip file (the name ends in .zip, the content is not a "
                              "zip archive)", file=name) from None
    with archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ValidationError("the zip unpacks to more than 2 GB")
        for member in members:
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root.resolve()):
                raise ValidationError(f"unsafe path in zip: {member.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.write_bytes(archive.read(member))
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
                raise ValidationError(f"damaged zip: cannot unpack {member.filename} ({exc})",
                                      file=name) from None


def _inputs(root: Path) -> list[Path]:
    """The task folders inside the upload, else the upload folder itself."""
    if (root / "task.toml").is_file():
        return [root]
    folders = sorted(p.parent for p in root.glob("*/task.toml"))
    if folders:
        return folders
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    files = [p for p in root.iterdir() if p.is_file()]
    return subdirs if len(subdirs) == 1 and not files else [root]


def import_upload(
    db: Database, files: list[tuple[str, bytes]], fmt: str = "auto",
    task_name: str | None = None, replace: bool = False,
) -> list[ImportReport]:
    """Import a zip of a task folder (or several) or loose files, all or nothing per task."""
    if not files:
        raise ValidationError("nothing uploaded")
    with tempfile.TemporaryDirectory(prefix="judge-app-upload-") as tmp:
        root = Path(tmp) / (task_name or "upload")
        root.mkdir()
        for name, data in files:
            try:
                if name.lower().endswith(".zip"):
                    _extract(data, root, Path(name).name)
                else:
                    (root / Path(name).name).write_bytes(data)
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFull(f"{Path(name).name} (unpacking the upload into {tmp})",
                                   "nothing was imported") from None
                raise
        try:
            bundles = load_bundles(_inputs(root), fmt, task_name)
            return [import_bundle(db, bundle, replace=replace) for bundle in bundles]
        except JudgeAppError as exc:  # name files as the uploader knows them, not the temp path
            message = str(exc).replace(f"{root}/", "").replace(str(root), root.name)
            renamed = copy.copy(exc)  # same class and fields, whatever its constructor takes
            renamed.args = (message,)
            raise renamed from exc
