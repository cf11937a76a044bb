#!/usr/bin/env bash
# Makes sure the system packages a recipe needs are installed. What is missing is installed with
# apt-get when this runs as root on a machine with apt-get; otherwise it stops, printing the one
# command that would install it. Silent when nothing is missing.
#
#   scripts/system-packages.sh NEED...
#
# A NEED is one tool, or a group of them:
#   - java        Java 17, for DynamoDB Local (openjdk-17-jre-headless)
#   - npm         npm and Node.js: DynamoDB Local and the browser test's playwright-core come from npm
#   - curl        the stack's and the local server's readiness checks, the engine check
#   - venv        Python's venv module: every pinned tool gets a venv of its own (python3-venv)
#   - c++         a C++ compiler: libfuzzer-sys compiles libFuzzer for the fuzz targets (g++)
#   - chromium    Debian's Chromium, for the browser test (or CHROMIUM naming another one)
#   - shellcheck  the linter of the project's shell scripts (`just lint`)
#   - nasm        the assembler of the AV1 decoder's (rav1d's) x86-64 code: every build of the
#                 service on an x86-64 machine
#   - dockerd     a Docker engine, for the e2e tests on containers (docker.io; CI only)
#   - debootstrap the base of the container images CI builds (CI only)
#   - stack       java npm curl venv nasm: the local AWS stack and the local server (`just dev`)
#   - test        everything `just test` runs: stack, c++, chromium, shellcheck
#   - ci          test, dockerd and debootstrap (`.ci/run`)
set -euo pipefail

me=scripts/system-packages.sh
python="${PYTHON:-python3}"

die() { echo "$me: $*" >&2; exit 1; }

# The tools a NEED stands for, one a line.
expand() {
  case "$1" in
    stack) printf '%s\n' java npm curl venv nasm ;;
    test) expand stack; printf '%s\n' c++ chromium shellcheck ;;
    ci) expand test; printf '%s\n' dockerd debootstrap ;;
    *) echo "$1" ;;
  esac
}

package_of() {
  case "$1" in
    java) echo openjdk-17-jre-headless ;;
    venv) echo python3-venv ;;
    c++) echo g++ ;;
    dockerd) echo docker.io ;;
    *) echo "$1" ;;
  esac
}

# Whether a command is installed, also where root's PATH has it but this PATH does not (/usr/sbin).
have() {
  local path
  path=$(command -v "$1") && [ -x "$path" ] || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

present() {
  case "$1" in
    # Debian ships ensurepip, which `python3 -m venv` needs, in python3-venv.
    venv) "$python" -c 'import ensurepip, venv' 2>/dev/null ;;
    chromium) [ -x "${CHROMIUM:-/usr/bin/chromium}" ] ;;
    *) have "$1" ;;
  esac
}

[ $# -gt 0 ] || die "usage: $me NEED... (see the list at the top of $me)"
tools=()
for need in "$@"; do
  case "$need" in
    stack | test | ci | java | npm | curl | venv | c++ | chromium | shellcheck | nasm | dockerd | debootstrap) ;;
    *) die "unknown need '$need' (see the list at the top of $me)" ;;
  esac
  mapfile -t -O "${#tools[@]}" tools < <(expand "$need")
done

missing=()
for tool in "${tools[@]}"; do
  if [ "$tool" = chromium ] && [ -n "${CHROMIUM:-}" ] && [ ! -x "$CHROMIUM" ]; then
    die "CHROMIUM=$CHROMIUM is not an executable (unset it to use Debian's chromium)"
  fi
  present "$tool" || missing+=("$(package_of "$tool")")
done
[ ${#missing[@]} -gt 0 ] || exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "$me: missing system packages: ${missing[*]}. Install them with:" >&2
  if command -v apt-get >/dev/null; then
    echo "  sudo apt-get install -y ${missing[*]}" >&2
  else
    echo "  (no apt-get here: install the equivalents of these Debian packages)" >&2
  fi
  exit 1
fi

echo "$me: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

still=()
for tool in "${tools[@]}"; do
  present "$tool" || still+=("$tool")
done
[ ${#still[@]} -eq 0 ] || die "still missing after installing ${missing[*]}: ${still[*]}"
