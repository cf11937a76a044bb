"""Runs checkov (offline) on the given templates and fails on any finding that
infra/checkov-skips.txt does not accept for exactly that check and resource, or on a line of that
file that matched nothing (so a skip cannot outlive its reason).

Run with the checkov tool venv's Python: infra/checkov.py TEMPLATE...
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def accepted():
    skips = {}
    with open(os.path.join(HERE, "checkov-skips.txt"), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                sys.exit(f"checkov-skips.txt:{number}: want CHECK RESOURCES REASON")
            check, resources, _reason = parts
            for resource in resources.split(","):
                skips[(check, resource)] = number
    return skips


def main(templates):
    checkov = os.path.join(os.path.dirname(sys.executable), "checkov")
    command = [checkov, "--skip-download", "--quiet", "--output", "json", "--framework",
               "cloudformation"]
    for template in templates:
        command += ["--file", template]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        reports = json.loads(run.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit("checkov: no JSON report (see above)")
    reports = reports if isinstance(reports, list) else [reports]
    skips = accepted()
    used = set()
    unexpected = []
    passed = 0
    for report in reports:
        if report.get("summary", {}).get("parsing_errors"):
            sys.exit(f"checkov could not parse: {report['results'].get('parsing_errors')}")
        passed += report["summary"]["passed"]
        for finding in report["results"]["failed_checks"]:
            logical_id = finding["resource"].rsplit(".", 1)[-1]
            key = (finding["check_id"], logical_id)
            if key in skips:
                used.add(key)
            else:
                unexpected.append(
                    f"  {finding['check_id']} {finding['resource']} ({finding['file_path']}): "
                    f"{finding['check_name']}"
                )
    stale = sorted(f"  line {n}: {c} {r}" for (c, r), n in skips.items() if (c, r) not in used)
    print(f"checkov: {passed} passed, {len(used)} accepted findings (infra/checkov-skips.txt)")
    if unexpected:
        print("checkov: findings not accepted in infra/checkov-skips.txt:\n" + "\n".join(unexpected))
    if stale:
        print("checkov: skips that matched no finding (remove them):\n" + "\n".join(stale))
    if unexpected or stale:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: checkov.py TEMPLATE...")
    main(sys.argv[1:])
