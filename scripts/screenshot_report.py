"""Render an apcfair report in headless Chromium and save a PNG screenshot.

    python scripts/screenshot_report.py apcfair-demo/report.html docs/report.png [--height 2400]

The README's picture (the executive summary at 1400 px, 256 colours to keep the file small):

    apcfair demo --out apcfair-demo --accounts 5000 --seed 2
    python scripts/screenshot_report.py apcfair-demo/report.html docs/report.png --width 1400 --height 1500 --colors 256

Needs Debian's ``chromium`` (``apt-get install chromium``). Used by the test suite when
Chromium is present, and to make the picture in the README.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 2400, timeout: int = 120) -> Path:
    """Screenshot ``html`` into ``png``; raises if Chromium is missing or fails."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("Chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png}", Path(html).resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError("Chromium wrote no screenshot")
    return png


def reduce_colors(png: Path, colors: int) -> Path:
    """Rewrite ``png`` with a palette of ``colors`` colours (text and charts stay sharp; the file shrinks)."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)
    return png


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=2400)
    ap.add_argument("--colors", type=int, default=0, help="palette size, e.g. 256 (default: full colour)")
    args = ap.parse_args()
    png = screenshot(args.html, args.png, args.width, args.height)
    if args.colors:
        reduce_colors(png, args.colors)
    print(png, f"{png.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
