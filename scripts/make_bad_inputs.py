#!/usr/bin/env python3
"""Writes a corpus of bad inputs for lookout, and a few good ones to screen
beside them (issue 17, "Nothing lost, nothing silent").

    python3 scripts/make_bad_inputs.py OUTDIR [--seed S]

OUTDIR is created if needed and must be empty. The script prints a JSON
manifest on stdout and also writes it to OUTDIR/manifest.json:

    {"seed": 17, "files": [{"path": "images/cut-40.jpg", "kind": "image",
      "expect": "fails", "what": "a JPEG cut at 40% of its bytes"}, ...]}

`path` is relative to OUTDIR. `kind` says which option of which command
takes the file:

    video, image, raster   screen INPUT (video also watch FEED, telemetry FILE)
    model                  screen/watch/eval --model, inspect MODEL
    config                 screen/watch -c, serve -c
    labels                 screen/inspect --labels
    gt                     eval --gt (a file or a dataset folder)
    predictions            eval --predictions
    events_gt              eval --events-gt
    telemetry              telemetry FILE, screen --telemetry
    bundle                 verify BUNDLE

`expect` is what lookout must do with it:

    good      screened (or read) without error
    fails     refused or failed, with a message naming the file, exit code 2
    damaged   screened as far as it can be read, the loss recorded, the file
              named in a warning; a damaged video is not an input that failed
    refused   (configs) the config is refused before anything runs, exit 2,
              with the file or the key at fault named

`key` (configs only) is the setting the message must name.

Everything is made from the repository's test data (tests/data), from
Python's seeded `random` (default seed 17) and, for the one short video
clip, the `ffmpeg` CLI with libx264 (one thread, bit-exact flags): the same seed and
the same FFmpeg write the same bytes. The corpus is under 1 MB. Only the
standard library is needed.
"""

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")


class Corpus:
    def __init__(self, out, seed):
        self.out = out
        self.rng = random.Random(seed)
        self.seed = seed
        self.files = []

    def noise(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def add(self, rel, data, kind, expect, what, **extra):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(path, mode) as f:
            f.write(data)
        self.entry(rel, kind, expect, what, **extra)

    def entry(self, rel, kind, expect, what, **extra):
        self.files.append({"path": rel, "kind": kind, "expect": expect, "what": what, **extra})


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def png(width, height, rgb=(90, 120, 150)):
    """A valid solid-colour 8-bit RGB PNG."""
    row = b"\x00" + bytes(rgb) * width
    return png_chunks(width, height, zlib.compress(row * height, 9))


def png_chunks(width, height, idat):
    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def geotiff(width, height):
    """A baseline uncompressed RGB TIFF, georeferenced in EPSG:4326 by its
    GeoTIFF tags (pixel scale, tie point, GeoKey directory). The IFD comes
    first and the pixels last, so that a cut keeps the header readable."""
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += bytes((40 + x % 64, 80 + y % 64, 120))
    scale = struct.pack("<3d", 0.0001, 0.0001, 0.0)
    tie = struct.pack("<6d", 0.0, 0.0, 0.0, 10.0, 45.0, 0.0)
    geokeys = struct.pack(
        "<16H", 1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326
    )
    bits = struct.pack("<3H", 8, 8, 8)
    # (tag, type, count, value bytes): 3 SHORT, 4 LONG, 12 DOUBLE.
    entries = [
        (256, 3, 1, struct.pack("<H", width)),
        (257, 3, 1, struct.pack("<H", height)),
        (258, 3, 3, bits),
        (259, 3, 1, struct.pack("<H", 1)),
        (262, 3, 1, struct.pack("<H", 2)),
        (273, 4, 1, None),  # strip offset, filled in below
        (277, 3, 1, struct.pack("<H", 3)),
        (278, 3, 1, struct.pack("<H", height)),
        (279, 4, 1, struct.pack("<I", len(pixels))),
        (284, 3, 1, struct.pack("<H", 1)),
        (33550, 12, 3, scale),
        (33922, 12, 6, tie),
        (34735, 3, 16, geokeys),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = 8 + ifd_size
    extra = bytearray()
    for _, _, _, value in entries:
        if value is not None and len(value) > 4:
            extra += value
    strip_at = extra_at + len(extra)
    ifd = bytearray(struct.pack("<H", len(entries)))
    offset = extra_at
    for tag, kind, count, value in entries:
        if value is None:
            value = struct.pack("<I", strip_at)
        if len(value) > 4:
            ifd += struct.pack("<HHI", tag, kind, count) + struct.pack("<I", offset)
            offset += len(value)
        else:
            ifd += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + bytes(ifd) + bytes(extra) + bytes(pixels)


def short_clip(path):
    """3 s (30 frames) of the sample sortie at 320x180, re-encoded as H.264
    (MPEG-4 part 2 where FFmpeg lacks libx264) with a keyframe every 10
    frames and no B-frames, the index (moov)
    first: a copy damaged in the middle resynchronises at the next
    keyframe. One encoder thread and bit-exact flags keep the bytes the
    same from run to run."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("make_bad_inputs.py: ffmpeg is not on PATH (scripts/setup.sh installs it)")
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True,
                              text=True, check=True).stdout
    if " libx264 " in encoders:
        codec = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    else:
        # FFmpeg built without libx264: its own MPEG-4 part 2 encoder.
        codec = ["-c:v", "mpeg4", "-q:v", "5"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", os.path.join(DATA, "sample-sortie.mp4"),
         "-t", "3", "-vf", "scale=320:180", *codec, "-bf", "0", "-g", "10", "-threads", "1",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
         "-movflags", "+faststart", path],
        check=True,
    )
    with open(path, "rb") as f:
        return f.read()


def make(c):
    # Good inputs, to screen in the same batch as the bad ones.
    jpeg = read("grace_hopper.jpg")
    c.add("images/good.jpg", jpeg, "image", "good", "a copy of tests/data/grace_hopper.jpg")
    c.add("images/good.png", png(320, 240), "image", "good", "a valid 320x240 PNG")
    clip_path = os.path.join(c.out, "video", "good-clip.mp4")
    os.makedirs(os.path.dirname(clip_path), exist_ok=True)
    clip = short_clip(clip_path)
    c.entry("video/good-clip.mp4", "video", "good", "3 s of tests/data/sample-sortie.mp4 at 320x180")
    tif = geotiff(128, 128)
    c.add("rasters/good.tif", tif, "raster", "good", "a valid 128x128 RGB GeoTIFF (EPSG:4326)")

    # Video.
    c.add("video/cut-half.mp4", clip[: len(clip) // 2], "video", "damaged",
          "the good clip cut in half (index intact, the second half of the frames missing)")
    noisy = bytearray(clip)
    mid = len(noisy) // 2
    noisy[mid : mid + 2048] = c.noise(2048)
    c.add("video/noise-middle.mp4", bytes(noisy), "video", "damaged",
          "the good clip with 2 KiB of random bytes in the middle of its frames")
    c.add("video/empty.mp4", b"", "video", "fails", "a 0-byte .mp4")
    c.add("video/text.mp4", "this is a text file, not a video\n" * 4, "video", "fails",
          "a text file named .mp4")
    c.add("video/noise.mp4", c.noise(8192), "video", "fails", "8 KiB of random bytes named .mp4")
    c.add("video/header-only.mp4", clip[:600], "video", "fails",
          "the first 600 bytes of the good clip: a file type box and part of the index")

    # Images.
    c.add("images/cut-40.jpg", jpeg[: len(jpeg) * 4 // 10], "image", "fails",
          "a JPEG cut at 40% of its bytes")
    good_png = bytearray(png(64, 48))
    # The IDAT chunk's CRC is its last 4 bytes before IEND (12 bytes).
    at = len(good_png) - 12 - 4
    good_png[at : at + 4] = bytes(b ^ 0xFF for b in good_png[at : at + 4])
    c.add("images/bad-crc.png", bytes(good_png), "image", "fails",
          "a 64x48 PNG whose IDAT chunk has a wrong CRC")
    c.add("images/empty.jpg", b"", "image", "fails", "a 0-byte .jpg")
    c.add("images/huge-header.png", png_chunks(100000, 100000, zlib.compress(b"\x00")),
          "image", "fails", "a PNG header declaring 100000x100000 pixels, with one byte of them")
    c.add("images/text.png", "not an image\n", "image", "fails", "a text file named .png")

    # Rasters.
    c.add("rasters/empty.tif", b"", "raster", "fails", "a 0-byte .tif")
    c.add("rasters/bad-magic.tif", b"XY*\x00" + c.noise(1020), "raster", "fails",
          "a .tif whose byte-order mark is neither II nor MM, then random bytes")
    cut = len(tif) - (128 * 128 * 3) * 6 // 10
    c.add("rasters/truncated.tif", tif[:cut], "raster", "fails",
          "the good GeoTIFF cut 40% of the way into its pixels (header and tags intact)")
    c.add("rasters/header-only.ntf", b"NITF02.10", "raster", "fails",
          "a NITF file that is only its 9-byte version string NITF02.10")

    # Models.
    c.add("models/empty.onnx", b"", "model", "fails", "a 0-byte .onnx")
    c.add("models/noise.onnx", c.noise(4096), "model", "fails", "4 KiB of random bytes named .onnx")
    c.add("models/text.onnx", "this is not a model\n", "model", "fails", "a text file named .onnx")

    # Configs: each is refused, naming the file or the setting at fault.
    configs = [
        ("invalid.toml", "[detect\nconf = 0.4\n", None, "not TOML (an unclosed table header)"),
        ("wrong-type.toml", '[detect]\nconf = "high"\n', None, "detect.conf is a string"),
        ("wrong-type-table.toml", "model = 3\n", None, "[model] is a number, not a table"),
        ("unknown-key.toml", "[detect]\nconff = 0.4\n", "conff", "an unknown key, detect.conff"),
        ("unknown-table.toml", "[detector]\nconf = 0.4\n", "detector", "an unknown table, [detector]"),
        ("negative-max-lost.toml", "[track]\nmax_lost_s = -1.0\n", "track.max_lost_s",
         "a negative duration"),
        ("nan-max-lost.toml", "[track]\nmax_lost_s = nan\n", "track.max_lost_s", "a NaN duration"),
        ("inf-max-lost.toml", "[track]\nmax_lost_s = inf\n", "track.max_lost_s",
         "an infinite duration"),
        ("negative-max-gap.toml", "[geo]\nmax_gap_s = -5.0\n", "geo.max_gap_s",
         "a negative telemetry gap"),
        ("nan-hold.toml", "[geo]\nhold_s = nan\n", "geo.hold_s", "a NaN hold time"),
        ("inf-hold.toml", "[geo]\nhold_s = inf\n", "geo.hold_s", "an infinite hold time"),
        ("negative-min-duration.toml",
         '[[signature]]\nkind = "presence"\nclasses = ["person"]\nmin_duration = -2.0\n',
         "min_duration", "a signature with a negative min_duration"),
        ("nan-grace.toml",
         '[[signature]]\nkind = "presence"\nclasses = ["person"]\ngrace = nan\n',
         "grace", "a signature with a NaN grace"),
        ("inf-min-duration.toml",
         '[[signature]]\nkind = "presence"\nclasses = ["person"]\nmin_duration = inf\n',
         "min_duration", "a signature with an infinite min_duration"),
        ("nan-fps.toml", "[sampling]\nfps = nan\n", "sampling.fps", "a NaN sampling rate"),
        ("zero-stride.toml", "[sampling]\nstride = 0\n", "sampling.stride", "a stride of 0"),
        ("absurd-threads.toml", "[model]\nthreads = 1000000\n", "model.threads",
         "a million inference threads"),
        ("absurd-decode-threads.toml", "[sampling]\ndecode_threads = 99999\n",
         "sampling.decode_threads", "99999 decoder threads"),
        ("tiny-tile.toml", "[tile]\nsize = 2\n", "tile.size", "a 2-pixel tile"),
        ("absurd-imgsz.toml", "[model]\nimgsz = 100000\n", "model.imgsz",
         "a 100000-pixel model input"),
        ("negative-imgsz.toml", "[model]\nimgsz = -640\n", None, "a negative model input size"),
        ("nan-conf.toml", "[detect]\nconf = nan\n", "detect.conf", "a NaN score threshold"),
        ("overlap-one.toml", "[tile]\noverlap = 1.0\n", "tile.overlap", "tiles that overlap wholly"),
        ("inf-scale.toml", "[model.preprocess]\nscale = 1e39\n", "model.preprocess.scale",
         "a pixel scale beyond f32, read as infinity"),
        ("zero-std.toml", "[model.preprocess]\nstd = [0.0, 1.0, 1.0]\n", "model.preprocess.std",
         "a standard deviation of 0"),
        ("zero-batch.toml", "[model]\nbatch = 0\n", "model.batch", "a batch of 0"),
        ("bad-device.toml", '[model]\ndevice = "warp-drive"\n', "model.device", "an unknown device"),
        ("bad-family.toml", '[model]\nfamily = "yolov99"\n', None, "an unknown model family"),
        ("bad-listen.toml", '[serve]\nlisten = "not an address"\n', "listen",
         "a review-server address that is no address (read by serve alone)"),
        ("binary.toml", None, None, "random bytes named .toml"),
    ]
    for name, text, key, what in configs:
        data = c.noise(512) if text is None else text
        extra = {"key": key} if key else {}
        c.add("configs/" + name, data, "config", "refused", what, **extra)

    # Labels (class names for --labels).
    c.add("labels/empty.txt", "", "labels", "fails", "a labels file with no names")
    c.add("labels/not-yaml.yaml", "names: [person, vessel\n  - : : {\n", "labels", "fails",
          "a data.yaml that is not YAML")
    c.add("labels/wrong-types.yaml", "names: 5\nnc: many\n", "labels", "fails",
          "a data.yaml whose names is a number and nc a word")
    c.add("labels/gaps.yaml", "names:\n  0: person\n  5: vessel\n", "labels", "fails",
          "a data.yaml whose class ids have a gap")
    c.add("labels/binary.yaml", c.noise(300), "labels", "fails", "random bytes named .yaml")

    # Ground truth.
    coco = read("sample-sortie.coco.json")
    c.add("gt/truncated.coco.json", coco[:3000], "gt", "fails",
          "the sample sortie's COCO JSON cut after 3000 bytes")
    c.add("gt/empty.json", b"", "gt", "fails", "a 0-byte COCO JSON")
    c.add("gt/wrong-types.json",
          json.dumps({"images": "many", "categories": [{"id": "one", "name": 7}]}),
          "gt", "fails", "a COCO JSON whose images is a string and category id a string")
    c.add("gt/bad-refs.json",
          json.dumps({"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
                      "categories": [{"id": 1, "name": "person"}],
                      "annotations": [{"id": 1, "image_id": 9, "category_id": 1,
                                       "bbox": [0, 0, 1, 1]}]}),
          "gt", "fails", "a COCO JSON whose annotation names an image that is not there")
    c.add("gt/not-yaml.yaml", "val: [images\nnames: {0: a\n", "gt", "fails",
          "a YOLO data.yaml that is not YAML")
    c.add("gt/wrong-types.yaml", "val: images\nnames: {zero: person}\n", "gt", "fails",
          "a YOLO data.yaml whose class id is a word")
    yolo = "gt/yolo-garbage/"
    c.add(yolo + "data.yaml", "path: .\nval: images/val\nnames: [person, vessel]\n", "support",
          "good", "the data.yaml of the YOLO folder with garbage labels")
    c.add(yolo + "images/val/a.png", png(64, 64), "support", "good", "an image of that folder")
    c.add(yolo + "labels/val/a.txt",
          "0 0.5 0.5 0.2 0.2\nperson 0.5 0.5 0.1 0.1\n\x00\x01garbage\n1 nan 0.5 0.1 0.1\n",
          "support", "good", "its labels, with garbage lines after a good one")
    c.entry("gt/yolo-garbage/data.yaml", "gt", "fails",
            "a YOLO dataset whose label file has garbage lines", names="labels/val/a.txt")
    vis = "gt/visdrone-garbage/"
    c.add(vis + "images/a.png", png(64, 64), "support", "good", "an image of the VisDrone folder")
    c.add(vis + "annotations/a.txt", "1,2,3,4,1,1,0,0\n1,2,three,4,1,1,0,0\n", "support", "good",
          "its annotations, the second line with a word for a number")
    c.entry("gt/visdrone-garbage", "gt", "fails",
            "a VisDrone folder whose annotation file has a garbage line",
            names="annotations/a.txt")
    c.add("gt/truncated.results.json", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1',
          "predictions", "fails", "a COCO results JSON cut in the middle")
    events = read("sample-sortie.events.json")
    c.add("gt/truncated.events.json", events[: len(events) // 2], "events_gt", "fails",
          "the sample sortie's event ground truth cut in half")

    # Telemetry.
    c.add("telemetry/noise.klv", c.noise(4096), "telemetry", "fails",
          "4 KiB of random bytes named .klv")
    c.add("telemetry/empty.srt", b"", "telemetry", "fails", "a 0-byte DJI .SRT")
    c.add("telemetry/garbage.srt", "1\n00:00:00,000 --> 00:00:00,033\n[latitude: north] "
          "[longitude: 10.0.0] [rel_alt: high]\n\n2\nno timing here\n\x00\x00\n", "telemetry",
          "fails", "a .SRT whose cues hold no number where numbers go")
    c.add("telemetry/garbage.csv", "time,lat,lon\nyesterday,north,east\n,,\n", "telemetry",
          "fails", "a flight log CSV with words for its times and positions")
    c.add("telemetry/truncated.gpx",
          '<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="45.0" lon=',
          "telemetry", "fails", "a GPX cut inside its first track point")
    ts = bytearray()
    for _ in range(12):
        ts += b"\x47" + c.noise(187)
    c.add("telemetry/noise.ts", bytes(ts), "telemetry", "fails",
          "12 MPEG-TS packets of random bytes (sync bytes only)")

    # Bundles for verify.
    c.add("bundles/noise.zip", c.noise(2048), "bundle", "fails", "random bytes named .zip")
    c.add("bundles/empty.zip", b"", "bundle", "fails", "a 0-byte .zip")
    c.add("bundles/truncated.zip", b"PK\x03\x04" + c.noise(100), "bundle", "fails",
          "a zip local-file header and nothing after it")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder to write the corpus into (created; must be empty)")
    p.add_argument("--seed", type=int, default=17, help="seed of the random bytes (default 17)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if os.listdir(args.out):
        sys.exit(f"make_bad_inputs.py: {args.out} is not empty")
    c = Corpus(os.path.abspath(args.out), args.seed)
    make(c)
    manifest = {"seed": c.seed, "files": c.files}
    text = json.dumps(manifest, indent=1)
    with open(os.path.join(c.out, "manifest.json"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
