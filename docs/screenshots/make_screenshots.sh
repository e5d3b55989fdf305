#!/bin/bash
# Regenerates docs/screenshots/<tab>.png from scenarios/deepseek-v3-h800.json under Xvfb.
# Usage: docs/screenshots/make_screenshots.sh [BUILD_DIR]   (default: build-gui)
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
gui="$root/${1:-build-gui}/gui/clustercost-gui"
cd "$root" || exit 1
status=0
for tab in summary breakdown memory scaling timeline traffic compare; do
  extra=()
  if [ "$tab" = compare ]; then
    extra=(--pin-variant cluster.gpus=4096 --pin-variant cluster.gpu=H100-SXM
           --pin-variant "parallelism.pp=8;parallelism.ep=32")
  fi
  xvfb-run -a -s "-screen 0 1600x1000x24" "$gui" --scenario scenarios/deepseek-v3-h800.json \
    --run --tab "$tab" --screenshot "docs/screenshots/$tab.png" "${extra[@]}" || status=1
done
exit $status
