#!/bin/bash
# Regenerates docs/screenshots/<tab>.png from scenarios/deepseek-v3-h800.json (every tab, the
# compare tab with three pinned variants) and docs/screenshots/llama3-70b-<tab>.png from
# scenarios/llama3-70b-h100.json (the DES tabs of a dense model, and 12 ms of its timeline
# zoomed in), under Xvfb.
# Usage: docs/screenshots/make_screenshots.sh [BUILD_DIR]   (default: build)
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
gui="$root/${1:-build}/gui/clustercost-gui"
cd "$root" || exit 1
status=0
xvfb-run -a -s "-screen 0 1600x1000x24" "$gui" --scenario scenarios/deepseek-v3-h800.json \
  --run --screenshot "docs/screenshots/{tab}.png" \
  --pin-variant cluster.gpus=4096 --pin-variant cluster.gpu=H100-SXM \
  --pin-variant "parallelism.pp=8;parallelism.ep=32" || status=1
xvfb-run -a -s "-screen 0 1600x1000x24" "$gui" --scenario scenarios/llama3-70b-h100.json \
  --run --screenshot "docs/screenshots/llama3-70b-{tab}.png" \
  --tab breakdown --tab timeline --tab traffic || status=1
# 12 ms of the Llama step's steady state, zoomed so that the ops carry their names.
xvfb-run -a -s "-screen 0 1600x1000x24" "$gui" --scenario scenarios/llama3-70b-h100.json \
  --run --tab timeline --timeline-window 14.000:14.012 \
  --screenshot docs/screenshots/llama3-70b-timeline-zoom.png || status=1
exit $status
