//! Finding and loading backend plugins.
//!
//! `--backend NAME` looks for `librocmforge_backend_NAME.so` in, in order:
//! 1. the directory of the running executable;
//! 2. each directory in `ROCMFORGE_BACKEND_PATH` (`:`-separated);
//! 3. each directory in `[backends] paths` of the config file
//!    (`$ROCMFORGE_CONFIG`, else `./rocmforge.toml`, else
//!    `$XDG_CONFIG_HOME/rocmforge/rocmforge.toml` or `~/.config/...`).
//!
//! `--backend ./path/to/lib.so` (anything with a `/` or a library suffix)
//! loads that file. Loaded libraries are never unloaded: code or data of a
//! plugin may still be referenced (thread-locals, handles), as ggml and
//! abi_stable also found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::abi::{self, read_str, AbiVersionFn, BackendVtable, InitFn, ScoreFn};
use crate::{Backend, BackendError, ForeignBackend, Probe, Result, Status};

/// A loaded plugin library whose ABI version matched.
pub struct BackendLib {
    path: PathBuf,
    lib: &'static libloading::Library,
    probe: Probe,
}

fn load_err(path: &Path, reason: impl Into<String>) -> BackendError {
    BackendError::Load { path: path.to_path_buf(), reason: reason.into() }
}

impl BackendLib {
    /// Open `path`, check it is a plugin of our ABI version and ask its score.
    /// A score of 0 is not an error here ([`BackendLib::init`] refuses it), so
    /// that `rocmforge backends` can list plugins that cannot run and why.
    pub fn open(path: &Path) -> Result<BackendLib> {
        // SAFETY: loading a library runs its initialisers; that is the point
        // of a plugin, and the user chose the file.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| load_err(path, format!("cannot load library: {e}")))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        let sym = |name: &str| -> Result<*const ()> {
            // SAFETY: only the address is taken here; it is cast to the
            // documented signature of that symbol below.
            unsafe { lib.get::<*const ()>(name.as_bytes()) }
                .map(|s| *s)
                .map_err(|_| load_err(path, format!("not a ROCmForge backend plugin (missing symbol `{name}`)")))
        };
        let version_ptr = sym(abi::SYMBOL_ABI_VERSION)?;
        // SAFETY: the symbol is documented as `AbiVersionFn`.
        let version = unsafe { std::mem::transmute::<*const (), AbiVersionFn>(version_ptr)() };
        if version != abi::ABI_VERSION {
            return Err(load_err(
                path,
                format!("incompatible ABI version (plugin: {version}, host: {})", abi::ABI_VERSION),
            ));
        }
        let score_ptr = sym(abi::SYMBOL_SCORE)?;
        sym(abi::SYMBOL_INIT)?;
        // SAFETY: documented signature; `read_str` passes a valid buffer.
        let score_fn = unsafe { std::mem::transmute::<*const (), ScoreFn>(score_ptr) };
        let mut score = 0;
        let description = read_str(|buf, len| {
            let mut full = 0usize;
            // SAFETY: as above; `read_str` passes a buffer of `len` bytes.
            score = unsafe { score_fn(buf, len, &mut full) };
            full
        });
        Ok(BackendLib { path: path.to_path_buf(), lib, probe: Probe { score, description } })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's score and one-line description (device, or why not).
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Create a backend instance. Refuses a plugin whose score is 0.
    pub fn init(&self) -> Result<Arc<dyn Backend>> {
        if self.probe.score <= 0 {
            return Err(load_err(&self.path, format!("cannot run on this machine: {}", self.probe.description)));
        }
        // SAFETY: checked to exist in `open`; documented signature.
        let init: libloading::Symbol<InitFn> = unsafe { self.lib.get(abi::SYMBOL_INIT.as_bytes()) }
            .map_err(|_| load_err(&self.path, format!("missing symbol `{}`", abi::SYMBOL_INIT)))?;
        let mut vt = BackendVtable::empty();
        let mut err = vec![0u8; 4096];
        // SAFETY: `vt` is valid for `struct_size` bytes, `err` for its length.
        let status = unsafe { init(&mut vt, vt.struct_size, err.as_mut_ptr(), err.len()) };
        let status = Status::from_i32(status);
        if status != Status::Ok {
            let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
            let msg = String::from_utf8_lossy(&err[..end]).into_owned();
            return Err(load_err(&self.path, format!("init failed ({status:?}): {msg}")));
        }
        // SAFETY: `vt` was filled by this library's init; the library is leaked.
        let backend = unsafe { ForeignBackend::from_vtable(vt, self.path.clone()) }?;
        Ok(Arc::new(backend))
    }
}

/// The file name of plugin `name` on this platform.
pub fn library_file_name(name: &str) -> String {
    format!("{}rocmforge_backend_{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// Whether a `--backend` value names a file rather than a plugin name.
pub fn is_path_spec(spec: &str) -> bool {
    spec.contains('/') || spec.contains('\\') || spec.ends_with(std::env::consts::DLL_SUFFIX)
}

/// Directories searched for plugins by name, in order.
pub fn search_dirs() -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        dirs.push(dir);
    }
    if let Some(v) = std::env::var_os("ROCMFORGE_BACKEND_PATH") {
        dirs.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(cfg) = config_file() {
        dirs.extend(config_backend_paths(&cfg)?);
    }
    Ok(dirs)
}

/// The config file in use, if any.
pub fn config_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROCMFORGE_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from("rocmforge.toml");
    if local.is_file() {
        return Some(local);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let p = base.join("rocmforge").join("rocmforge.toml");
    p.is_file().then_some(p)
}

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    backends: BackendsSection,
}

#[derive(serde::Deserialize, Default)]
struct BackendsSection {
    #[serde(default)]
    paths: Vec<PathBuf>,
}

/// `[backends] paths = [...]` from a config file; relative paths are taken
/// relative to the file.
pub fn config_backend_paths(file: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(file).map_err(|e| load_err(file, format!("cannot read config: {e}")))?;
    let cfg: Config =
        toml::from_str(&text).map_err(|e| load_err(file, format!("bad config: {}", e.message().replace('\n', " "))))?;
    let base = file.parent().unwrap_or(Path::new("."));
    Ok(cfg.backends.paths.into_iter().map(|p| if p.is_relative() { base.join(p) } else { p }).collect())
}

/// Resolve a `--backend` value to a library file.
pub fn resolve(spec: &str) -> Result<PathBuf> {
    if is_path_spec(spec) {
        let p = PathBuf::from(spec);
        if !p.is_file() {
            return Err(load_err(&p, "no such plugin file"));
        }
        return Ok(p);
    }
    if spec.is_empty() || !spec.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(BackendError::InvalidArgument(format!(
            "backend name `{spec}` must be letters, digits, `_` or `-` (or a path to a library)"
        )));
    }
    let file = library_file_name(spec);
    let dirs = search_dirs()?;
    for d in &dirs {
        let p = d.join(&file);
        if p.is_file() {
            return Ok(p);
        }
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(load_err(
        Path::new(&file),
        format!("backend `{spec}` not found (searched: {}; set ROCMFORGE_BACKEND_PATH)", searched.join(", ")),
    ))
}

/// Resolve, open and initialise a backend: `--backend` in one call.
pub fn load(spec: &str) -> Result<Arc<dyn Backend>> {
    BackendLib::open(&resolve(spec)?)?.init()
}

/// Every plugin library found in the search directories, by name, first one
/// found winning (the order [`resolve`] uses).
pub fn discover() -> Result<Vec<(String, PathBuf)>> {
    let prefix = format!("{}rocmforge_backend_", std::env::consts::DLL_PREFIX);
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in search_dirs()? {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let Some(f) = p.file_name().and_then(|f| f.to_str()) else { continue };
            let Some(name) = f.strip_prefix(&prefix).and_then(|r| r.strip_suffix(std::env::consts::DLL_SUFFIX)) else {
                continue;
            };
            if !found.iter().any(|(n, _)| n == name) {
                found.push((name.to_string(), p.clone()));
            }
        }
    }
    Ok(found)
}
