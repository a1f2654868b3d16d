#!/usr/bin/env python3
"""Subset Noto Sans CJK (Debian's fonts-noto-cjk) to the characters titles use.

Keeps every character of GB 2312 (Simplified Chinese), JIS X 0208 (Japanese), the Hangul
syllables of KS X 1001 (Korean), Big5 level 1 (common Traditional Chinese), all kana, CJK
punctuation and full-width forms. Output: fonts/noto-cjk/NotoSansCJKjp-{Regular,Bold}-subset.otf

    pip install fonttools
    python3 fonts/tools/subset-cjk.py /usr/share/fonts/opentype/noto fonts/noto-cjk
"""
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection


def legacy_charset(encoding, lead_bytes, trail_bytes):
    chars = set()
    for lead in lead_bytes:
        for trail in trail_bytes:
            try:
                chars.update(bytes([lead, trail]).decode(encoding))
            except UnicodeDecodeError:
                pass
    return chars


def wanted():
    chars = set()
    chars |= legacy_charset("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
    chars |= legacy_charset("euc_jp", range(0xA1, 0xF5), range(0xA1, 0xFF))
    chars |= legacy_charset("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))  # Hangul syllables
    chars |= legacy_charset("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)))
    ranges = [
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0x3040, 0x30FF),  # hiragana, katakana
        (0x31F0, 0x31FF),  # katakana phonetic extensions
        (0xFF00, 0xFFEF),  # half- and full-width forms
        (0x3130, 0x318F),  # Hangul compatibility jamo
    ]
    for lo, hi in ranges:
        chars.update(chr(c) for c in range(lo, hi + 1))
    return sorted(ord(c) for c in chars)


def main(src_dir, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    codepoints = wanted()
    for weight in ("Regular", "Bold"):
        collection = TTCollection(str(Path(src_dir) / f"NotoSansCJK-{weight}.ttc"))
        font = collection.fonts[0]  # the JP face; every face holds the same character set
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)
        path = out / f"NotoSansCJKjp-{weight}-subset.otf"
        font.save(str(path))
        print(f"{path}: {len(codepoints)} characters, {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
