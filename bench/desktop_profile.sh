#!/usr/bin/env bash
# Export every artifact the project has (skipping those already in OUT_DIR), then measure them all on this
# machine into devices/$DEVICE.yaml (provenance: measured): onnxruntime and LiteRT, 1 and 2 threads; the
# portable ONNX graphs also in OpenCV DNN; then the loops' own per-frame work (edgecv profile-loops).
# Usage: bench/desktop_profile.sh [DEVICE] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-desktop-xeon-2c}
ART=${2:-artifacts}
EDGECV=${EDGECV:-.venv/bin/edgecv}
export OMP_WAIT_POLICY=PASSIVE
have() { compgen -G "$ART/$1" >/dev/null; }
single() { [ "$1" = mnv2-dcn ] || [ "$1" = warp-head ] || [ "$1" = persondet-lite0 ]; }   # one graph, no part name
for m in siamfc sasiam spm spm-lite dff-seg dff-seg-nodcn excolor mnv2-dcn warp-head persondet-lite0; do
  for f in onnx tflite; do
    for p in fp32 int8; do
      if [ "$f" = onnx ]; then pat="$m-*-standard-$p.onnx"; single "$m" && pat="$m-standard-$p.onnx"
      else pat="$m-*$p.tflite"; single "$m" && pat="$m-$p.tflite"; fi
      have "$pat" || $EDGECV export "$m" --format "$f" --precision "$p" --out "$ART" | tail -1 || true  # a part may fail int8
    done
  done
done
have "mnv2-dcn-portable-fp32.onnx" || $EDGECV export mnv2-dcn --format onnx --ops portable --out "$ART" | tail -1
rm -f "devices/$DEVICE.yaml"
# fp16 ONNX graphs are left out: onnxruntime runs them through casts on a CPU (slower than fp32; see BENCHMARKS.md)
$EDGECV profile "$ART"/*-fp32.onnx "$ART"/*-int8.onnx "$ART"/*-fp32.tflite "$ART"/*-int8.tflite \
  --threads 1,2 --runs 30 --device "$DEVICE" --out "devices/$DEVICE.yaml"
$EDGECV profile "$ART"/*-portable-fp32.onnx --backend opencv --threads 1,2 --runs 30 --device "$DEVICE" \
  --out "devices/$DEVICE.yaml"
$EDGECV profile-loops --device "devices/$DEVICE.yaml" --artifacts "$ART"
