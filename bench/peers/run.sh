#!/usr/bin/env bash
# `just bench-peers`: the processor's thumbnail path against libvips (sharp), libjpeg-turbo (Pillow)
# and a naive `image` decode, on the same deterministic inputs, on one pinned core.
#
# Peers are installed on first use into the tool cache (as infra/tools.sh does): Pillow from PyPI,
# pinned with hashes in infra/requirements-peers.lock; sharp from npm, pinned by
# bench/peers/package-lock.json (`npm ci`; libvips comes prebuilt as @img/sharp-libvips-linux-x64).
# Inputs are made by make_inputs.py (with fixtures/images/heif/heif_grid.py) into target/bench-peers/inputs-<hash of the
# scripts and the lock>.
#
# Environment: BENCH_PEERS_RUNS (default 15), BENCH_PEERS_CPU (the core to pin, default 1),
# BENCH_PEERS_CLOCK=cpu to time CPU time instead of wall-clock time (on a machine others are using),
# BENCH_PEERS_ROUNDS (default 1): rounds of the three tools one after another, so that a slow spell
# of a shared machine falls on every tool alike; the table gives the median of the rounds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}"
target="${CARGO_TARGET_DIR:-$root/target}"
runs="${BENCH_PEERS_RUNS:-15}"
cpu="${BENCH_PEERS_CPU:-1}"
out="$root/target/bench-peers"

say() { echo "bench-peers: $*" >&2; }

pillow="$("$root/infra/tools.sh" bin peers)"

npm_lock="$here/package-lock.json"
sharp_dir="$cache/sharp-$(sha256sum "$npm_lock" | cut -c1-12)"
if [ ! -f "$sharp_dir/.installed" ]; then
  say "installing sharp into $sharp_dir (pinned in bench/peers/package-lock.json)"
  rm -rf "$sharp_dir"
  mkdir -p "$sharp_dir"
  cp "$here/package.json" "$npm_lock" "$sharp_dir/"
  (cd "$sharp_dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$sharp_dir/.installed"
fi

inputs="$out/inputs-$(cat "$here/make_inputs.py" "$root/fixtures/images/heif/heif_grid.py" "$root/infra/requirements-peers.lock" | sha256sum | cut -c1-12)"
if [ ! -f "$inputs/inputs.json" ]; then
  say "making the inputs into $inputs"
  rm -rf "$inputs"
  "$pillow/python" "$here/make_inputs.py" "$inputs"
fi

say "building the Rust side (release)"
cargo build --quiet --release --manifest-path "$here/ours/Cargo.toml" --target-dir "$target/bench-peers-ours"
ours="$target/bench-peers-ours/release/image-upload-bench-peers"

rounds="${BENCH_PEERS_ROUNDS:-1}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { say "BENCH_PEERS_ROUNDS must be a whole number of 1 or more"; exit 2; }
mkdir -p "$out/rounds"
rm -f "$out"/rounds/*.json
for round in $(seq 1 "$rounds"); do
  say "round $round of $rounds: timing ours and naive image ($runs runs each, core $cpu)"
  taskset -c "$cpu" "$ours" "$inputs" "$runs" >"$out/rounds/ours-$round.json"
  say "round $round of $rounds: timing Pillow"
  taskset -c "$cpu" "$pillow/python" "$here/pillow_bench.py" "$inputs" "$runs" >"$out/rounds/pillow-$round.json"
  say "round $round of $rounds: timing sharp"
  NODE_PATH="$sharp_dir/node_modules" taskset -c "$cpu" node "$here/sharp_bench.js" "$inputs" "$runs" \
    >"$out/rounds/sharp-$round.json"
done

"$pillow/python" "$here/table.py" "$inputs" "$out/rounds" "$rounds" "$runs" | tee "$out/table.md"
