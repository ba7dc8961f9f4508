#!/usr/bin/env bash
# The last call of a device run (see bench/gpu/README.md): unpack the staged check, point it at the
# CUDA 13 libraries that come with the machine's PyTorch, run it, then the PyTorch baseline.
#   bench/gpu/run-on-device.sh OUT_DIR [minutes for the check, default 8]
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:?usage: run-on-device.sh OUT_DIR [minutes]}"
minutes="${2:-8}"
store="${FLUXWEB_GPU_DIR:-/tmp/fluxweb-gpucheck}"
mkdir -p "$out"

bash bench/gpu/unstage.sh extract "$store/app" || exit 1

# ONNX Runtime's CUDA provider needs libcudart/cublas/cublasLt .so.13, libcurand .so.10 and cuDNN 9:
# the nvidia-* wheels of the machine's PyTorch carry them. libcuda.so.1 comes with the driver.
libs=$(python3 - <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
wanted = ("libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9")
dirs = []
for root in roots:
    for name in wanted:
        for hit in glob.glob(os.path.join(root, "**", name), recursive=True):
            d = os.path.dirname(hit)
            if d not in dirs:
                dirs.append(d)
print(":".join(dirs))
PY
)
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "CUDA libraries from: ${libs:-none found (the check will say what is missing)}"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>/dev/null || true

timeout $(( minutes * 60 + 60 )) "$store/app/fluxweb-gpucheck" --repo . --work "$store/work" --out "$out" --minutes "$minutes" 2> "$out/gpucheck.log"
echo "fluxweb-gpucheck exit code $? (progress log: $out/gpucheck.log)"

timeout 240 python3 bench/gpu/torch-baseline.py --fixtures tests/fixtures/flux2-tiny --out "$out" 2>&1
echo "torch-baseline exit code $?"
