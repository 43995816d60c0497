#!/usr/bin/env bash
# Packs .device/ for tools/device/cuda-checks.sh: ../shared/device/pack.sh, then drops the jars whose classes are
# already there (the shaded crate-cli.jar and benchmarks.jar, and shade's original-*.jar copies) so the bundle stays
# under the device's 64 MiB carry limit. Usage, from the repository root: bash tools/device/pack-cuda.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
# java.desktop: the CLI reads and writes images (javax.imageio) and its commands load those classes
MODULES=${MODULES:-java.base,jdk.incubator.vector,jdk.unsupported,java.management,java.logging,java.desktop} \
  bash ../shared/device/pack.sh
rm -f .device/lib/crate-cli.jar .device/lib/benchmarks.jar .device/lib/original-*.jar
# JCuda's natives we never load (PTX compiler, NVRTC): 8 MB of the bundle
python3 - .device/lib/jcuda-natives-*.jar <<'PY'
import sys, zipfile, os
src = sys.argv[1]; tmp = src + ".tmp"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if "JNvPTXCompiler" not in item.filename and "JNvrtc" not in item.filename:
            zout.writestr(item, zin.read(item.filename))
os.replace(tmp, src)
PY
du -sh .device
