#!/usr/bin/env bash
# Export every artifact the project has, then measure them all on this machine into
# devices/$DEVICE.yaml (provenance: measured). Usage: bench/desktop_profile.sh [DEVICE] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-desktop-amd-epyc-2c}
ART=${2:-out/profile-artifacts}
EDGECV=${EDGECV:-.venv/bin/edgecv}
for spec in "mnv2-dcn onnx fp32 standard" "mnv2-dcn onnx fp32 portable" "mnv2-dcn onnx fp16 standard" \
            "mnv2-dcn onnx int8 standard" "mnv2-dcn onnx int8 portable" "mnv2-dcn tflite fp32 portable" \
            "mnv2-dcn tflite fp16 portable" "mnv2-dcn tflite int8 portable" \
            "warp-head onnx fp32 standard" "warp-head onnx fp32 portable" "warp-head onnx int8 standard" \
            "warp-head tflite fp32 portable" "warp-head tflite int8 portable"; do
  set -- $spec
  $EDGECV export "$1" --format "$2" --precision "$3" --ops "$4" --out "$ART" | tail -1
done
rm -f "devices/$DEVICE.yaml"
$EDGECV profile "$ART"/*.onnx "$ART"/*.tflite --threads 1,2 --runs 50 --device "$DEVICE" --out "devices/$DEVICE.yaml"
# portable ONNX graphs also run in OpenCV DNN
$EDGECV profile "$ART"/*-portable-fp32.onnx --backend opencv --threads 1,2 --runs 50 --device "$DEVICE" \
  --out "devices/$DEVICE.yaml"
