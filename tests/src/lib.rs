//! Shared helpers for ROCmForge's cross-crate tests: where the built plugin
//! libraries are, compiling the C fixture plugins, random data.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `tests/` crate directory (at run time, so archived test runs that
/// remap the workspace still find their fixtures).
pub fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn workspace_root() -> PathBuf {
    crate_dir().parent().map(Path::to_path_buf).unwrap_or_default()
}

pub fn fixtures_dir() -> PathBuf {
    crate_dir().join("fixtures")
}

/// The cargo profile directory the running test binary was built into
/// (`target/<profile>`), where workspace cdylibs and binaries are placed.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test-binary>
    exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
}

/// Path of a workspace plugin library (`cpu`, `hip`) next to the test's
/// profile directory. Panics with a hint when it was not built: the tests are
/// run with `cargo test --workspace` / `cargo nextest run --workspace`, which
/// builds the cdylibs.
pub fn workspace_plugin(name: &str) -> PathBuf {
    let file = rocmforge_backend_api::loader::library_file_name(name);
    for dir in [profile_dir(), profile_dir().join("deps")] {
        let p = dir.join(&file);
        if p.is_file() {
            return p;
        }
    }
    panic!("{file} not found under {}: build the workspace (cargo build --workspace) first", profile_dir().display())
}

/// Compile `tests/fixtures/plugins/<name>.c` into a shared library in a
/// per-process temporary directory and return its path.
pub fn build_c_plugin(name: &str) -> PathBuf {
    let src_dir = fixtures_dir().join("plugins");
    let out_dir = std::env::temp_dir().join(format!("rocmforge-test-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("create temp dir");
    let out = out_dir.join(format!("lib{name}.so"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(src_dir.join(format!("{name}.c")))
        .arg(format!("-I{}", src_dir.display()))
        .status()
        .unwrap_or_else(|e| panic!("cannot run C compiler `{cc}`: {e}"));
    assert!(status.success(), "compiling fixture plugin {name} failed");
    out
}

/// Deterministic pseudo-random f32 values in [-1, 1).
pub fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The `rocmforge` binary of the profile the tests were built with.
pub fn rocmforge_bin() -> PathBuf {
    let p = profile_dir().join("rocmforge");
    assert!(p.is_file(), "{} not built: run `cargo build --workspace` first", p.display());
    p
}

/// Result of running the CLI.
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `rocmforge` with `args` (plugins found next to the binary).
pub fn run_cli(args: &[&str]) -> CliRun {
    let out = Command::new(rocmforge_bin()).args(args).output().expect("run rocmforge");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Assert a clean CLI failure: exit code 1, no panic, one `error:` line
/// naming `needle`, nothing on stdout.
pub fn assert_cli_fails(r: &CliRun, needle: &str) {
    assert_eq!(r.code, Some(1), "exit code; stderr: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line expected: {}", r.stderr);
    assert!(errors[0].contains(needle), "`{needle}` not in: {}", errors[0]);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
}

/// A fresh temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rocmforge-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Where `scripts/fetch-models.sh` caches real models.
pub fn model_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ROCMFORGE_CACHE_DIR") {
        return PathBuf::from(d).join("models");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    base.join("rocmforge").join("models")
}

/// The real SmolLM2-135M-Instruct Q4_1 file. Panics with the fix when it is
/// missing: the end-to-end tests are part of the suite, not optional.
pub fn smollm2_path() -> PathBuf {
    let p = model_cache_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.is_file(), "{} missing: run scripts/fetch-models.sh", p.display());
    p
}
