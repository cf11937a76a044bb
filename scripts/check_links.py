#!/usr/bin/env python3
"""Checks the Markdown docs: every relative link in README.md, CHANGELOG.md and docs/**/*.md names an
existing file, and an existing heading when it carries a #fragment (GitHub's anchor rules); and no
table cell of README.md is over 200 characters. Prints each problem; exits 1 if there is any.

Usage: python3 scripts/check_links.py [REPO_ROOT] (`just lint` runs it)
"""
import pathlib
import re
import sys

MAX_README_CELL = 200

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
files = [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").rglob("*.md"))]
files = [f for f in files if f.exists() and "node_modules" not in f.parts]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def outside_code(path):
    """The file's lines outside fenced code blocks."""
    lines, fence = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence:
            lines.append(line)
    return lines


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for line in outside_code(path):
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


problems = []
for doc in files:
    name = doc.relative_to(root)
    for target in LINK.findall("\n".join(outside_code(doc))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        path, _, fragment = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            problems.append(f"{name}: {target}: no such file")
        elif fragment and (dest.suffix != ".md" or fragment not in anchors(dest)):
            problems.append(f"{name}: {target}: no such heading")

for number, line in enumerate((root / "README.md").read_text().splitlines(), 1):
    if line.startswith("|"):
        for cell in line.strip().strip("|").split("|"):
            if len(cell.strip()) > MAX_README_CELL:
                problems.append(f"README.md:{number}: a table cell of {len(cell.strip())} characters")

print("\n".join(problems))
print(f"{len(files)} files checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
