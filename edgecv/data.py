"""Real sample media: fetched from Debian's ``opencv-doc`` package, split into train / held-out.

``edgecv fetch-data`` (or :func:`ensure_samples`) downloads the package with ``apt-get download``,
unpacks it with ``dpkg -x`` and keeps only ``examples/data`` under ``$EDGECV_DATA`` (default
``~/.cache/edgecv``). Nothing else is ever downloaded.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
VIDEO_EXTS = {".avi", ".mp4", ".mkv", ".mov"}
# Images that are drawings, charts, text or calibration patterns rather than natural photos.
NOT_PHOTOS = {"LinuxLogo", "WindowsLogo", "opencv-logo", "opencv-logo-white", "alphabet_36", "alphabet_94",
              "chessboard", "digits", "gradient", "notes", "text_defect", "imageTextN", "imageTextR", "mask",
              "ml", "pic1", "pic2", "pic3", "pic4", "pic5", "pic6", "sudoku", "detect_blob", "ellipses",
              "box", "box_in_scene", "cards", "board", "graf1", "graf3", "aloeGT", "H1to3p", "data01",
              "Blender_Suzanne1", "Blender_Suzanne2", "HappyFish", "pca_test1", "licenseplate_motion",
              "ela_modified", "ela_original", "blox", "smarties", "left_intrinsics", "tmpl", "stuff"}
HELDOUT_VIDEOS = {"tree.avi"}


class DataError(RuntimeError):
    pass


def data_root() -> Path:
    return Path(os.environ.get("EDGECV_DATA", Path.home() / ".cache" / "edgecv"))


def samples_dir() -> Path:
    return data_root() / "opencv-samples"


def ensure_samples(verbose: bool = True) -> Path:
    """Return the sample folder, fetching Debian's opencv-doc package first if needed."""
    dest = samples_dir()
    if (dest / "vtest.avi").exists():
        return dest
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise DataError("real sample media come from Debian's opencv-doc package, but apt-get/dpkg are not "
                        f"available; unpack opencv-doc's examples/data into {dest} by hand")
    with tempfile.TemporaryDirectory() as tmp:
        def download():
            return subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, capture_output=True, text=True)
        if verbose:
            print(f"fetching opencv-doc (real sample images and videos) into {dest} ...", flush=True)
        r = download()
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            r = download()
        debs = list(Path(tmp).glob("opencv-doc_*.deb"))
        if r.returncode != 0 or not debs:
            raise DataError(f"apt-get download opencv-doc failed: {r.stderr.strip()[-500:]}")
        unpack = Path(tmp) / "x"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(unpack)], check=True)
        src = unpack / "usr/share/doc/opencv-doc/examples/data"
        if not (src / "vtest.avi").exists():
            raise DataError(f"opencv-doc package has no examples/data/vtest.avi (looked in {src})")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(src, staging, ignore=shutil.ignore_patterns("dnn"))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
    return dest


def is_heldout(name: str) -> bool:
    """Deterministic 25% held-out split of photos by file name (never trained on)."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 4 == 0


def photos(split: str = "train") -> list[Path]:
    """Natural photos of the sample set; ``split`` is train | heldout | all."""
    root = ensure_samples(verbose=False)
    out = []
    for p in sorted(root.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTS or p.stem in NOT_PHOTOS:
            continue
        if p.stem.startswith(("left", "right")) and p.stem[-1].isdigit():
            continue  # chessboard calibration shots
        if split == "all" or (split == "heldout") == is_heldout(p.name):
            out.append(p)
    return out


def videos(split: str = "train") -> list[Path]:
    root = ensure_samples(verbose=False)
    names = {"train": ["vtest.avi", "Megamind.avi"], "heldout": sorted(HELDOUT_VIDEOS),
             "all": ["vtest.avi", "Megamind.avi", *sorted(HELDOUT_VIDEOS)]}[split]
    return [root / n for n in names if (root / n).exists()]


def read_frames(source, max_frames: int | None = None, step: int = 1, start: int = 0):
    """Frames (BGR uint8) from a video file or a folder of images; raises DataError naming the source."""
    import cv2

    source = Path(source)
    if not source.exists():
        raise DataError(f"frame source {source} does not exist")
    frames = []
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        for p in files[start::step]:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(f"cannot read image {p}")
            frames.append(img)
            if max_frames and len(frames) >= max_frames:
                break
    else:
        cap = cv2.VideoCapture(str(source))
        if not cap.isOpened():
            raise DataError(f"cannot open video {source}")
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if i >= start and (i - start) % step == 0:
                frames.append(img)
                if max_frames and len(frames) >= max_frames:
                    break
            i += 1
        cap.release()
    if not frames:
        raise DataError(f"no readable frames in {source}")
    return frames
