#!/usr/bin/env python3
"""Compile every kernel source (kernels/*.hip) for NVIDIA and AMD targets
without a GPU, the way the HIP backend compiles them at run time, and fail
on any error.

NVIDIA: NVRTC through ctypes, with the options of
crates/backend-hip/src/compile/mod.rs (`--gpu-architecture=sm_XY
-default-device --std=c++17 -DRF_PLATFORM_NVIDIA=1 -DRF_WARP_SIZE=32`) and
the headers under kernels/common/ handed over by include name, as the
backend embeds them. Targets: sm_80 and sm_90.
  libnvrtc: $NVRTC_LIB, else the `nvidia-cuda-nvrtc-cu12` wheel
  (`python3 -m pip install nvidia-cuda-nvrtc-cu12`), else the system's.

AMD: clang (clang-19, else the newest clang-1x found; $HIP_CLANG overrides)
in HIP device-only mode with the backend's hiprtc options (`-O3 -std=c++17
-DRF_PLATFORM_AMD=1 -DRF_WARP_SIZE=N`), for one target per branch the
kernels take: gfx908, gfx90a, gfx942 (CDNA 1-3, warp 64: MFMA), gfx1100
(RDNA3, warp 32: WMMA) and gfx1201 (RDNA4, warp 32: gfx12 WMMA). (gfx950's
MFMA branch needs clang 20.) No ROCm is needed: hiprtc compiles against its
built-in runtime header, which a machine without ROCm lacks, so a small
prelude (PRELUDE below) stands in for the few things kernels use from it:
threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __shfl*,
__forceinline__, __launch_bounds__, atomics. Kernels that need more from HIP's runtime header
append it there. Device libraries are not linked (-nogpulib). Most files
are compiled with -fgpu-rdc -c, whose device output is LLVM bitcode: that
checks the front end and the IR optimizer, not instruction selection.
Files in AMD_ISA are compiled to assembly (-S) instead, and the kernels
named there must contain the target's matrix instruction, so a matrix-unit
path that is compiled out (a wrong #if) fails here rather than on a GPU.

Usage: scripts/check-kernels.py [--nvidia-only | --amd-only] [FILE.hip ...]
Exit status: 0 when every compile succeeded, 1 on any error, 2 when a
required compiler is missing (use --nvidia-only / --amd-only to skip one).
"""

import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "kernels")

NVIDIA_ARCHS = ["sm_80", "sm_90"]
AMD_TARGETS = [("gfx908", 64), ("gfx90a", 64), ("gfx942", 64), ("gfx1100", 32), ("gfx1201", 32)]

# file -> (suffix of the kernels that must use the matrix unit, {target: the
# instruction each of them must contain, as a regex on the assembly}). A
# target missing here has no such expectation for the file.
_MFMA = r"v_mfma_f32_32x32x8_?f16"  # gfx942 spells it v_mfma_f32_32x32x8_f16
_WMMA = r"v_wmma_f32_16x16x16_f16"
AMD_ISA = {
    "matmul.hip": ("_mma", {"gfx908": _MFMA, "gfx90a": _MFMA, "gfx942": _MFMA, "gfx1100": _WMMA, "gfx1201": _WMMA}),
}

# Stand-in for what hiprtc's built-in runtime header gives kernels. Only the
# device side is needed; the definitions mirror HIP's amd_hip_runtime.h /
# amd_warp_functions.h closely enough to type-check and generate code.
PRELUDE = r"""
#pragma once
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(max_threads) __attribute__((amdgpu_flat_work_group_size(1, max_threads)))
#define warpSize __builtin_amdgcn_wavefrontsize()
struct rf_check_uint3 { unsigned int x, y, z; };
#define threadIdx (rf_check_uint3{__builtin_amdgcn_workitem_id_x(), __builtin_amdgcn_workitem_id_y(), \
                                  __builtin_amdgcn_workitem_id_z()})
#define blockIdx (rf_check_uint3{__builtin_amdgcn_workgroup_id_x(), __builtin_amdgcn_workgroup_id_y(), \
                                 __builtin_amdgcn_workgroup_id_z()})
#define blockDim (rf_check_uint3{__builtin_amdgcn_workgroup_size_x(), __builtin_amdgcn_workgroup_size_y(), \
                                 __builtin_amdgcn_workgroup_size_z()})
#define gridDim (rf_check_uint3{__builtin_amdgcn_grid_size_x() / __builtin_amdgcn_workgroup_size_x(), \
                                __builtin_amdgcn_grid_size_y() / __builtin_amdgcn_workgroup_size_y(), \
                                __builtin_amdgcn_grid_size_z() / __builtin_amdgcn_workgroup_size_z()})

__device__ inline void __syncthreads() {
    __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
    __builtin_amdgcn_s_barrier();
    __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
__device__ inline void __threadfence() { __builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "agent"); }
__device__ inline void __threadfence_block() { __builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "workgroup"); }

__device__ inline int __lane_id() { return __builtin_amdgcn_mbcnt_hi(~0u, __builtin_amdgcn_mbcnt_lo(~0u, 0u)); }
__device__ inline int __shfl(int var, int src_lane, int width = warpSize) {
    int self = __lane_id();
    int index = src_lane + (self & ~(width - 1));
    return __builtin_amdgcn_ds_bpermute(index << 2, var);
}
__device__ inline int __shfl_xor(int var, int lane_mask, int width = warpSize) {
    int self = __lane_id();
    int index = self ^ lane_mask;
    index = index >= ((self + width) & ~(width - 1)) ? self : index;
    return __builtin_amdgcn_ds_bpermute(index << 2, var);
}
__device__ inline int __shfl_down(int var, unsigned int delta, int width = warpSize) {
    int self = __lane_id();
    int index = self + delta;
    index = (int)((self & (width - 1)) + delta) >= width ? self : index;
    return __builtin_amdgcn_ds_bpermute(index << 2, var);
}
__device__ inline int __shfl_up(int var, unsigned int delta, int width = warpSize) {
    int self = __lane_id();
    int index = self - delta;
    index = index < (self & ~(width - 1)) ? self : index;
    return __builtin_amdgcn_ds_bpermute(index << 2, var);
}
#define RF_CHECK_SHFL_AS(T)                                                                         \
    __device__ inline T __shfl(T v, int l, int w = warpSize) {                                      \
        return __builtin_bit_cast(T, __shfl(__builtin_bit_cast(int, v), l, w)); }                   \
    __device__ inline T __shfl_xor(T v, int l, int w = warpSize) {                                  \
        return __builtin_bit_cast(T, __shfl_xor(__builtin_bit_cast(int, v), l, w)); }               \
    __device__ inline T __shfl_down(T v, unsigned int d, int w = warpSize) {                        \
        return __builtin_bit_cast(T, __shfl_down(__builtin_bit_cast(int, v), d, w)); }              \
    __device__ inline T __shfl_up(T v, unsigned int d, int w = warpSize) {                          \
        return __builtin_bit_cast(T, __shfl_up(__builtin_bit_cast(int, v), d, w)); }
RF_CHECK_SHFL_AS(float)
RF_CHECK_SHFL_AS(unsigned int)

template <typename T> __device__ inline T atomicAdd(T* p, T v) {
    return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}
template <typename T> __device__ inline T atomicMax(T* p, T v) {
    return __hip_atomic_fetch_max(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}
template <typename T> __device__ inline T atomicMin(T* p, T v) {
    return __hip_atomic_fetch_min(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}
template <typename T> __device__ inline T atomicExch(T* p, T v) {
    return __hip_atomic_exchange(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}
template <typename T> __device__ inline T atomicCAS(T* p, T expected, T desired) {
    __hip_atomic_compare_exchange_strong(p, &expected, desired, __ATOMIC_RELAXED, __ATOMIC_RELAXED,
                                         __HIP_MEMORY_SCOPE_AGENT);
    return expected;
}
"""


def kernel_files(args):
    files = [a for a in args if not a.startswith("--")]
    if files:
        return [os.path.abspath(f) for f in files]
    return sorted(glob.glob(os.path.join(KERNELS, "*.hip")))


def headers():
    """Every header under kernels/common/, by include name ("common/compat.h")."""
    out = []
    for path in sorted(glob.glob(os.path.join(KERNELS, "common", "*.h"))):
        with open(path, "rb") as f:
            out.append((os.path.relpath(path, KERNELS).replace(os.sep, "/"), f.read()))
    return out


# ---- NVIDIA: NVRTC ---------------------------------------------------------


def find_nvrtc():
    cands = []
    if os.environ.get("NVRTC_LIB"):
        cands.append(os.environ["NVRTC_LIB"])
    try:
        import nvidia.cuda_nvrtc  # the pip wheel

        for base in list(getattr(nvidia.cuda_nvrtc, "__path__", [])):
            cands += sorted(glob.glob(os.path.join(base, "lib", "libnvrtc.so.*")))
    except ImportError:
        pass
    cands += ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]
    for c in cands:
        if "builtins" in c or ".alt." in c:
            continue
        try:
            return ctypes.CDLL(c), c
        except OSError:
            continue
    return None, None


def nvrtc_compile(lib, name, code, hdrs, options):
    """(ok, log) of compiling `code` with NVRTC."""
    prog = ctypes.c_void_p()
    n = len(hdrs)
    hsrc = (ctypes.c_char_p * n)(*[h[1] for h in hdrs])
    hname = (ctypes.c_char_p * n)(*[h[0].encode() for h in hdrs])
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), code, name.encode(), n, hsrc, hname)
    if rc != 0:
        return False, "nvrtcCreateProgram failed: %d" % rc
    opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    rc = lib.nvrtcCompileProgram(prog, len(options), opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    buf = ctypes.create_string_buffer(size.value + 1)
    lib.nvrtcGetProgramLog(prog, buf)
    log = buf.value.decode(errors="replace").strip()
    if rc == 0:
        csize = ctypes.c_size_t()
        lib.nvrtcGetCUBINSize(prog, ctypes.byref(csize))
        if csize.value == 0:
            rc, log = 1, (log + "\nno code produced").strip()
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return rc == 0, log


def check_nvidia(files):
    lib, path = find_nvrtc()
    if lib is None:
        print("nvidia: no libnvrtc found (pip install nvidia-cuda-nvrtc-cu12, or set NVRTC_LIB)")
        return None
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    print("nvidia: NVRTC %d.%d (%s)" % (major.value, minor.value, path))
    hdrs = headers()
    failed = 0
    for f in files:
        with open(f, "rb") as fh:
            code = fh.read()
        for arch in NVIDIA_ARCHS:
            options = [
                "--gpu-architecture=" + arch,
                "-default-device",
                "--std=c++17",
                "-DRF_PLATFORM_NVIDIA=1",
                "-DRF_WARP_SIZE=32",
            ]
            ok, log = nvrtc_compile(lib, os.path.basename(f), code, hdrs, options)
            print("  [%s] %s %s" % ("ok" if ok else "FAIL", os.path.relpath(f, ROOT), arch))
            if log:
                print("\n".join("      " + line for line in log.splitlines()))
            failed += not ok
    return failed


# ---- AMD: clang in HIP mode --------------------------------------------------


def find_clang():
    if os.environ.get("HIP_CLANG"):
        return os.environ["HIP_CLANG"]
    for v in range(25, 13, -1):
        c = shutil.which("clang-%d" % v)
        if c:
            return c
    return shutil.which("clang")


def check_isa(asm, suffix, instruction):
    """(problem or None, note): every kernel of `asm` whose name ends in
    `suffix` contains `instruction` (a regex), and there is at least one."""
    bodies = {}
    for m in re.finditer(r"^(\w+):[^\n]*\n(.*?)^\.Lfunc_end", asm, re.S | re.M):
        if m.group(1).endswith(suffix):
            bodies[m.group(1)] = len(re.findall(r"^\s+" + instruction + r"\b", m.group(2), re.M))
    if not bodies:
        return "no *%s kernels in the code (compiled out?)" % suffix, ""
    missing = sorted(k for k, n in bodies.items() if n == 0)
    if missing:
        return "no %s in: %s" % (instruction, ", ".join(missing)), ""
    counts = sorted(set(bodies.values()))
    return None, ": %d *%s kernels, %s x %s each" % (
        len(bodies), suffix, "/".join(map(str, counts)), instruction.replace("_?", ""))


def check_amd(files):
    clang = find_clang()
    if clang is None:
        print("amd: no clang found (apt-get install clang-19, or set HIP_CLANG)")
        return None
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print("amd: %s (%s)" % (version, clang))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        prelude = os.path.join(tmp, "rf_check_hip_prelude.h")
        with open(prelude, "w") as f:
            f.write(PRELUDE)
        for f in files:
            isa = AMD_ISA.get(os.path.basename(f))
            for arch, warp in AMD_TARGETS:
                expect = isa[1].get(arch) if isa else None
                out = os.path.join(tmp, "out.s" if expect else "out.o")
                cmd = [
                    clang,
                    "-x",
                    "hip",
                    "--cuda-device-only",
                    "-nogpulib",
                    "-nogpuinc",
                ] + (["-S"] if expect else ["-fgpu-rdc", "-c"]) + [
                    "--offload-arch=" + arch,
                    "-std=c++17",
                    "-O3",
                    "-DRF_PLATFORM_AMD=1",
                    "-DRF_WARP_SIZE=%d" % warp,
                    "-include",
                    "__clang_hip_runtime_wrapper.h",
                    "-include",
                    prelude,
                    "-I",
                    KERNELS,
                    "-o",
                    out,
                    f,
                ]
                r = subprocess.run(cmd, capture_output=True, text=True)
                ok = r.returncode == 0
                log = (r.stdout + r.stderr).strip()
                note = ""
                if ok and expect:
                    with open(out) as fh:
                        problem, note = check_isa(fh.read(), isa[0], expect)
                    if problem:
                        ok = False
                        log = (log + "\n" + problem).strip()
                print("  [%s] %s %s (warp %d)%s" % ("ok" if ok else "FAIL", os.path.relpath(f, ROOT), arch, warp, note))
                if log:
                    print("\n".join("      " + line for line in log.splitlines()))
                failed += not ok
    return failed


def main(argv):
    files = kernel_files(argv)
    if not files:
        print("no kernels/*.hip found")
        return 1
    results = []
    if "--amd-only" not in argv:
        results.append(check_nvidia(files))
    if "--nvidia-only" not in argv:
        results.append(check_amd(files))
    if any(r is None for r in results):
        return 2
    failed = sum(results)
    print("check-kernels: %s" % ("OK" if failed == 0 else "%d compile(s) FAILED" % failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
