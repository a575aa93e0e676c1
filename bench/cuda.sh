#!/usr/bin/env bash
# The torch backend on CUDA: runs the torch-backend tests and the benchmarks on a CUDA device where
# an NVIDIA GPU and a CUDA LibTorch are present, and skips with one line anywhere else.
#   bash bench/cuda.sh            # device cuda:0
#   CRHN_TORCH_DEVICE=cuda:1 bash bench/cuda.sh
# The CUDA LibTorch comes from the NuGet package TorchSharp-cuda-linux (LIBTORCH_PACKAGE overrides),
# restored in place of TorchSharp-cpu through the LibTorchPackage property.
set -euo pipefail
cd "$(dirname "$0")/.."
device="${CRHN_TORCH_DEVICE:-cuda}"
package="${LIBTORCH_PACKAGE:-TorchSharp-cuda-linux}"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "skip: no NVIDIA GPU here (nvidia-smi finds none); the torch backend on CUDA was not run"
  exit 0
fi
if ! dotnet restore Crhn.Torch.Tests -p:LibTorchPackage="$package" >/tmp/crhn-cuda-restore.log 2>&1 ||
   ! dotnet restore bench/Crhn.Bench -p:LibTorchPackage="$package" >>/tmp/crhn-cuda-restore.log 2>&1; then
  echo "skip: a GPU is here, but the CUDA LibTorch package $package does not restore (/tmp/crhn-cuda-restore.log)"
  exit 0
fi
nvidia-smi -L
CRHN_TORCH_DEVICE="$device" dotnet test Crhn.Torch.Tests -c Release -p:LibTorchPackage="$package" --logger "console;verbosity=normal"
mkdir -p bench/results/cuda
dotnet run --project bench/Crhn.Bench -c Release -p:LibTorchPackage="$package" -- --backend "torch:$device" --out bench/results/cuda
echo "results: bench/results/cuda"
