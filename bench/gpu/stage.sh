#!/usr/bin/env bash
# Packs FluxWeb's GPU check for a machine that has no .NET and no ONNX Runtime: a self-contained,
# trimmed linux-x64 publish of bench/gpu/FluxWeb.GpuCheck with ONNX Runtime's CUDA provider,
# compressed and split into parts small enough to travel beside the working tree in one device
# call each (64 MiB per call in all). bench/gpu/unstage.sh puts them back together on the device.
#
#   bench/gpu/stage.sh [--codec zstd|xz] [--level N] [--out DIR] [--part-mib N] [--from DIR]
#
#   --codec     xz (default: -9e; any python3 can undo it with lzma) or zstd (-19 --long; needs zstd on the device)
#   --out       where the parts and MANIFEST go (default bench/gpu/staged, ignored by git)
#   --part-mib  part size; default: what a call has left after the working tree, less 2 MiB
#   --from DIR  stage an existing folder instead of publishing (tests use this)
#
# Prints the number of parts, which is the number of device calls a run needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

# xz -9e made 204.3 MB of the 358 MB publish, zstd -19 --long 206.5 MB (same number of parts): xz, because
# every python3 can decompress it, while the GPU machine may have no zstd.
codec=xz
level=""
out="bench/gpu/staged"
part_mib=""
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --codec) codec="$2"; shift 2 ;;
    --level) level="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --part-mib) part_mib="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    *) echo "error: unknown option $1" >&2; exit 2 ;;
  esac
done

case "$codec" in
  zstd) command -v zstd >/dev/null || { echo "error: zstd is not installed (apt-get install zstd, or --codec xz)" >&2; exit 1; }
        level=${level:-19}; suffix=zst ;;
  xz)   command -v xz >/dev/null || { echo "error: xz is not installed" >&2; exit 1; }
        level=${level:-9}; suffix=xz ;;
  *) echo "error: --codec is zstd or xz" >&2; exit 2 ;;
esac

# A device call carries the whole working tree (tracked files and untracked ones git does not ignore)
# plus the carried paths, 64 MiB in all: a part is what is left, less a margin.
call_limit=$((64 * 1024 * 1024))
tree_bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s+=$1} END {print s+0}')
if [ -z "$part_mib" ]; then
  part_mib=$(( (call_limit - tree_bytes) / 1024 / 1024 - 2 ))
fi
if [ "$part_mib" -lt 1 ]; then
  echo "error: the working tree ($((tree_bytes / 1024 / 1024)) MiB) leaves no room in a 64 MiB call" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
payload="$work/payload"
if [ -n "$from" ]; then
  mkdir -p "$payload"
  cp -a "$from/." "$payload/"
else
  echo "==> dotnet publish (self-contained, trimmed, linux-x64)" >&2
  dotnet publish bench/gpu/FluxWeb.GpuCheck/FluxWeb.GpuCheck.csproj -c Release -p:GpuCheckStage=true -o "$payload" --nologo -v quiet >&2
  # Only what the check loads: not the TensorRT provider (no TensorRT on the device), nor .NET's debugger and tracing helpers.
  rm -f "$payload"/libonnxruntime_providers_tensorrt.so "$payload"/libmscordbi.so "$payload"/libmscordaccore.so \
        "$payload"/createdump "$payload"/libcoreclrtraceptprovider.so "$payload"/libclrgc.so "$payload"/libclrgcexp.so "$payload"/*.pdb
  test -x "$payload/fluxweb-gpucheck" || { echo "error: the publish has no fluxweb-gpucheck" >&2; exit 1; }
fi
payload_bytes=$(du -sb "$payload" | cut -f1)

archive="gpucheck.tar.$suffix"
echo "==> tar | $codec -$level ($((payload_bytes / 1024 / 1024)) MiB in)" >&2
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$payload" -cf "$work/gpucheck.tar" .
case "$codec" in
  zstd) zstd -q -"$level" --long=27 -T0 "$work/gpucheck.tar" -o "$work/$archive" ;;
  xz)   xz -q -"$level"e -T0 -c "$work/gpucheck.tar" > "$work/$archive" ;;
esac

rm -rf "$out"
mkdir -p "$out"
split -b "${part_mib}M" -d -a 2 "$work/$archive" "$out/$archive.part-"
parts=("$out/$archive".part-*)
{
  echo "codec $codec"
  echo "archive $archive $(sha256sum "$work/$archive" | cut -d' ' -f1) $(stat -c %s "$work/$archive")"
  echo "parts ${#parts[@]}"
  for part in "${parts[@]}"; do
    echo "part $(basename "$part") $(sha256sum "$part" | cut -d' ' -f1) $(stat -c %s "$part")"
  done
} > "$out/MANIFEST"

archive_mib=$(( $(stat -c %s "$work/$archive") / 1024 / 1024 ))
echo "staged $((payload_bytes / 1024 / 1024)) MiB as ${archive_mib} MiB ($codec -$level) in ${#parts[@]} parts of at most ${part_mib} MiB under $out"
echo "working tree $((tree_bytes / 1024 / 1024)) MiB + one part + MANIFEST per call: a device run needs ${#parts[@]} calls (see bench/gpu/README.md)"
