//! The on-disk cache of compiled code objects.
//!
//! **Key.** SHA-256 over everything that decides the output, each field
//! length-prefixed so that no two different inputs can run together into
//! the same bytes: a format tag, the platform, the compiler and its version,
//! the target ("sm_90", "gfx90a:sramecc+:xnack-"), every option in order,
//! the source's name and text and every embedded header's name and text.
//!
//! **Entries.** `<dir>/<key hex>.co`, holding a header (magic, payload
//! length, SHA-256 of the payload) and the code object. A file that is
//! short, has the wrong magic or whose checksum does not match (a torn
//! write after a crash, a disk error, someone else's file) reads as a miss,
//! so the kernel is recompiled and the entry rewritten.
//!
//! **Concurrency.** A writer fills a uniquely named temporary file in the
//! same directory and `rename`s it over the entry, which POSIX makes
//! atomic: readers see the old entry, the new one, or none, never a partial
//! one. Two processes compiling the same kernel both write the same bytes;
//! the last rename wins. No locks.
//!
//! The cache is an optimisation: failing to create the directory or write
//! an entry is not an error for the compile that produced it.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::sha256::{hex, sha256, Sha256};
use super::KernelSource;

/// Tag hashed into every key; bump it when the key's inputs or the meaning
/// of a cached object change.
const KEY_FORMAT: &str = "rocmforge-kernel-cache/1";

/// First bytes of every entry (the trailing digit is the entry format).
const MAGIC: &[u8; 8] = b"RFKCODE1";
const HEADER_BYTES: usize = 8 + 8 + 32;

/// What a cached code object depends on.
#[derive(Clone, Copy, Debug)]
pub struct KeyInputs<'a> {
    /// "amd" / "nvidia".
    pub platform: &'a str,
    /// Compiler and version, "NVRTC 13.0".
    pub compiler: &'a str,
    /// The compile target.
    pub target: &'a str,
    /// Every compiler option, in order.
    pub options: &'a [String],
    pub source: &'a KernelSource<'a>,
}

/// A cache key: the SHA-256 of the [`KeyInputs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    pub fn new(k: &KeyInputs<'_>) -> CacheKey {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(KEY_FORMAT.as_bytes());
        field(k.platform.as_bytes());
        field(k.compiler.as_bytes());
        field(k.target.as_bytes());
        field(&(k.options.len() as u64).to_le_bytes());
        for o in k.options {
            field(o.as_bytes());
        }
        field(k.source.name.as_bytes());
        field(k.source.code.as_bytes());
        field(&(k.source.headers.len() as u64).to_le_bytes());
        for hd in k.source.headers {
            field(hd.name.as_bytes());
            field(hd.code.as_bytes());
        }
        CacheKey(h.finish())
    }

    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// The cache directory: `$ROCMFORGE_CACHE_DIR/kernels` when set (non-empty;
/// the same root the CLI keeps models under), else
/// `$XDG_CACHE_HOME/rocmforge/kernels`, else
/// `$HOME/.cache/rocmforge/kernels`; `None` when none of them is set. The
/// variables' values are parameters so tests need not touch the process
/// environment.
pub fn cache_dir_from(rocmforge: Option<OsString>, xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
    if let Some(d) = set(rocmforge) {
        return Some(d.join("kernels"));
    }
    if let Some(x) = set(xdg) {
        return Some(x.join("rocmforge").join("kernels"));
    }
    set(home).map(|h| h.join(".cache").join("rocmforge").join("kernels"))
}

/// [`cache_dir_from`] with the process environment.
pub fn cache_dir_from_env() -> Option<PathBuf> {
    cache_dir_from(
        std::env::var_os("ROCMFORGE_CACHE_DIR"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// A directory of cached code objects.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub fn new(dir: PathBuf) -> DiskCache {
        DiskCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `key` lives.
    pub fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.co", key.hex()))
    }

    /// The cached code object, or `None` when missing, short or corrupt.
    pub fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let bytes = fs::read(self.path_of(key)).ok()?;
        decode(&bytes)
    }

    /// Store a code object atomically (temporary file + rename).
    pub fn put(&self, key: &CacheKey, code: &[u8]) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{}.{}.tmp", key.hex(), unique_suffix()));
        let result = (|| {
            let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&encode(code))?;
            // No fsync: after a crash a torn entry fails its checksum and is
            // recompiled, which is cheaper than syncing every entry.
            drop(f);
            fs::rename(&tmp, self.path_of(key))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The cached object for `key`, or `make()`'s result, stored for next
    /// time. Returns the object and whether it came from the cache. A failed
    /// store is ignored (see the module docs).
    pub fn get_or_insert_with<E>(
        &self,
        key: &CacheKey,
        make: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<(Vec<u8>, bool), E> {
        if let Some(code) = self.get(key) {
            return Ok((code, true));
        }
        let code = make()?;
        let _ = self.put(key, &code);
        Ok((code, false))
    }
}

/// A suffix no other writer (process or thread) uses at the same time.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}.{nanos}.{n}", std::process::id())
}

fn encode(code: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + code.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(code.len() as u64).to_le_bytes());
    out.extend_from_slice(&sha256(code));
    out.extend_from_slice(code);
    out
}

fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    let payload = &bytes[HEADER_BYTES..];
    if payload.len() as u64 != len || payload.is_empty() || sha256(payload)[..] != bytes[16..48] {
        return None;
    }
    Some(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Header;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rocmforge-hip-cache-test-{tag}-{}", unique_suffix()));
        fs::create_dir_all(&d).expect("temp dir must be creatable for this test");
        d
    }

    const H1: [Header<'static>; 1] = [Header { name: "common/compat.h", code: "#define A 1\n" }];

    fn key_with(
        f: impl FnOnce(&mut (String, String, String, Vec<String>, String, String, Vec<(String, String)>)),
    ) -> CacheKey {
        let mut v = (
            "nvidia".to_string(),
            "NVRTC 13.0".to_string(),
            "sm_90".to_string(),
            vec!["-default-device".to_string(), "--std=c++17".to_string()],
            "norm.hip".to_string(),
            "extern \"C\" __global__ void k() {}".to_string(),
            vec![("common/compat.h".to_string(), "#define A 1\n".to_string())],
        );
        f(&mut v);
        let headers: Vec<Header<'_>> = v.6.iter().map(|(n, c)| Header { name: n, code: c }).collect();
        let src = KernelSource { name: &v.4, code: &v.5, headers: &headers };
        CacheKey::new(&KeyInputs { platform: &v.0, compiler: &v.1, target: &v.2, options: &v.3, source: &src })
    }

    #[test]
    fn key_is_stable() {
        // Pinned: a change here invalidates every user's cache, so it must be
        // deliberate (bump KEY_FORMAT along with it). The value was checked
        // independently with Python's hashlib over the same length-prefixed
        // fields.
        let src = KernelSource { name: "a.hip", code: "x", headers: &H1 };
        let opts = vec!["-O3".to_string()];
        let k = CacheKey::new(&KeyInputs {
            platform: "amd",
            compiler: "hiprtc 6.2",
            target: "gfx90a",
            options: &opts,
            source: &src,
        });
        assert_eq!(
            k,
            CacheKey::new(&KeyInputs {
                platform: "amd",
                compiler: "hiprtc 6.2",
                target: "gfx90a",
                options: &opts,
                source: &src
            })
        );
        assert_eq!(k.hex().len(), 64);
        assert_eq!(k.hex(), PINNED_KEY, "cache key changed: bump KEY_FORMAT and update PINNED_KEY");
    }

    const PINNED_KEY: &str = "8681f2afe136c99d729f42ebd68f23d45cfc3f91f8a17edcbddab4d4574f46f2";

    #[test]
    fn key_depends_on_every_input() {
        let base = key_with(|_| {});
        let variants = [
            key_with(|v| v.0 = "amd".into()),
            key_with(|v| v.1 = "NVRTC 12.8".into()),
            key_with(|v| v.2 = "sm_89".into()),
            key_with(|v| v.3.push("-DX=1".into())),
            key_with(|v| v.3.reverse()),
            key_with(|v| v.4 = "rope.hip".into()),
            key_with(|v| v.5.push(' ')),
            key_with(|v| v.6[0].1 = "#define A 2\n".into()),
            key_with(|v| v.6[0].0 = "common/other.h".into()),
            key_with(|v| v.6.clear()),
        ];
        for (i, k) in variants.iter().enumerate() {
            assert_ne!(*k, base, "variant {i} must change the key");
        }
        // Field boundaries matter: moving a byte from one field to the next
        // is a different key.
        let a = key_with(|v| {
            v.3 = vec!["-DA".into(), "B".into()];
        });
        let b = key_with(|v| {
            v.3 = vec!["-DAB".into(), "".into()];
        });
        assert_ne!(a, b);
    }

    #[test]
    fn cache_dir_precedence() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(cache_dir_from(os("/c"), os("/x"), os("/h")), Some(PathBuf::from("/c/kernels")));
        assert_eq!(cache_dir_from(os(""), os("/x"), os("/h")), Some(PathBuf::from("/x/rocmforge/kernels")));
        assert_eq!(cache_dir_from(None, None, os("/h")), Some(PathBuf::from("/h/.cache/rocmforge/kernels")));
        assert_eq!(cache_dir_from(None, None, None), None);
    }

    #[test]
    fn put_then_get_round_trips_and_leaves_no_temp_files() {
        let dir = temp_dir("roundtrip");
        let cache = DiskCache::new(dir.join("nested/kernels"));
        let key = key_with(|_| {});
        assert_eq!(cache.get(&key), None);
        let code: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        cache.put(&key, &code).expect("put into a fresh temp dir");
        assert_eq!(cache.get(&key).as_deref(), Some(&code[..]));
        // Overwrite with different bytes.
        cache.put(&key, b"second").expect("overwrite");
        assert_eq!(cache.get(&key).as_deref(), Some(&b"second"[..]));
        let names: Vec<String> = fs::read_dir(cache.dir())
            .expect("cache dir exists")
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![format!("{}.co", key.hex())]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_or_short_entries_are_misses_and_get_recompiled() {
        let dir = temp_dir("corrupt");
        let cache = DiskCache::new(dir.clone());
        let key = key_with(|_| {});
        let code = b"\x7fELF fake code object".to_vec();
        cache.put(&key, &code).expect("put");
        let path = cache.path_of(&key);
        let good = fs::read(&path).expect("entry written");

        let damaged: Vec<Vec<u8>> = vec![
            good[..good.len() - 1].to_vec(),   // truncated payload
            good[..HEADER_BYTES - 1].to_vec(), // truncated header
            Vec::new(),                        // empty file
            b"garbage that is long enough to be a header but is not one at all...".to_vec(),
            {
                let mut b = good.clone();
                let last = b.len() - 1;
                b[last] ^= 1; // flipped payload bit
                b
            },
            {
                let mut b = good.clone();
                b.push(0); // trailing junk
                b
            },
        ];
        for (i, bad) in damaged.into_iter().enumerate() {
            fs::write(&path, &bad).expect("overwrite entry");
            assert_eq!(cache.get(&key), None, "damage {i} must read as a miss");
            let mut compiled = 0;
            let (got, hit) = cache
                .get_or_insert_with::<()>(&key, || {
                    compiled += 1;
                    Ok(code.clone())
                })
                .expect("compile closure succeeds");
            assert_eq!((got, hit, compiled), (code.clone(), false, 1), "damage {i}");
            assert_eq!(fs::read(&path).expect("rewritten"), good, "damage {i}: entry rewritten");
            let (_, hit) = cache.get_or_insert_with::<()>(&key, || panic!("must hit")).expect("hit");
            assert!(hit);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_writers_leave_one_valid_entry() {
        let dir = temp_dir("concurrent");
        let cache = DiskCache::new(dir.clone());
        let key = key_with(|_| {});
        let code: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 256) as u8).collect();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..5 {
                        cache.put(&key, &code).expect("concurrent put");
                        // A reader never sees a partial entry.
                        if let Some(got) = cache.get(&key) {
                            assert_eq!(got.len(), code.len());
                        }
                    }
                });
            }
        });
        assert_eq!(cache.get(&key).as_deref(), Some(&code[..]));
        let entries = fs::read_dir(&dir).expect("dir").count();
        assert_eq!(entries, 1, "temporary files must all be renamed or removed");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn failed_compiles_are_not_cached() {
        let dir = temp_dir("failed");
        let cache = DiskCache::new(dir.clone());
        let key = key_with(|_| {});
        let r = cache.get_or_insert_with(&key, || Err("compile error"));
        assert_eq!(r, Err("compile error"));
        assert!(!cache.path_of(&key).exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
