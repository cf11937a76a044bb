#!/usr/bin/env bash
# One fuzz target for a while: `scripts/fuzz.sh TARGET SECONDS [ARG...]` (`just fuzz`).
# TARGET is upload_request, sniff, jpeg_dc or inspect; ARGs go to libFuzzer. Installs cargo-fuzz
# into the tool cache on first use, seeds the corpus from the fixtures, and logs to
# fuzz/logs/TARGET.log. On a crash: the panic, where the input was written and how to reproduce
# it, and a failure. Otherwise: libFuzzer's last status line, and how many kinds of
# decode_dc/jpeg-decoder disagreement the jpeg_dc target reported (reported, not failed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [ARG...]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
tools="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}/tools"
# Optimised, with the debug assertions and overflow checks of fuzz/Cargo.toml's release profile;
# no sanitizer, because the sanitizers are unstable rustc flags and this builds on stable (see
# fuzz/README.md).
flags=(-O --sanitizer none)
# A 1 MP input that takes longer than this (seconds) is a finding (a quadratic loop), not a slow
# machine.
timeout=10

if [ ! -x "$tools/bin/cargo-fuzz" ]; then
  cargo install --root "$tools" cargo-fuzz --version 0.13.2 --locked
fi
./fuzz/seed-corpus.sh
mkdir -p fuzz/logs
log="fuzz/logs/$target.log"
echo "fuzzing $target for $seconds s (log: $log)"
# The fuzz crate has its own target dir (fuzz/target); a CARGO_TARGET_DIR from the shell would
# hide the binaries from cargo-fuzz.
if ! env -u CARGO_TARGET_DIR PATH="$tools/bin:$PATH" cargo fuzz run "${flags[@]}" "$target" -- \
    -max_total_time="$seconds" -timeout="$timeout" "$@" >"$log" 2>&1; then
  grep -E -A1 'panicked at|^SUMMARY|^==[0-9]+==ERROR' "$log" || tail -n 40 "$log"
  grep -E 'Test unit written to|^Reproduce with|^[[:space:]]+cargo fuzz (run|tmin)' "$log" || true
  echo "full log: $log"
  echo "fuzz $target: FAILED; the input is under fuzz/artifacts/$target/ (see fuzz/README.md)"
  exit 1
fi
# libFuzzer's last status line: total execs, coverage, corpus size (also in -fork mode).
grep -E '^#[0-9]+' "$log" | tail -n 1
grep -E '^Done [0-9]+ runs' "$log" || true
kinds=$(grep -c '^jpeg_dc differential' "$log" || true)
if [ "$kinds" -gt 0 ]; then
  echo "$kinds kinds of decode_dc/jpeg-decoder disagreement, reported not failed: grep 'differential' $log"
fi
