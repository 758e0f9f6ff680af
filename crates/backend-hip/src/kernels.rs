//! Kernel sources embedded in the plugin, and the per-backend table of
//! loaded modules and functions.
//!
//! Sources live in `kernels/` at the workspace root (`*.hip`, shared code
//! in `kernels/common/`) and are embedded with `include_str!`, so the plugin
//! is one file. They are compiled on first use ([`crate::compile`]), loaded
//! once per backend instance, and every later lookup is a map access keyed
//! by the `'static` source's address and the kernel name (no hashing of the
//! source text on the launch path).

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Mutex;

use rocmforge_backend_api::Result;

use crate::compile::{Compiler, Header, KernelSource, Target};
use crate::runtime::{Device, Function, Module};

/// `kernels/common/compat.h`: platform differences, types, warp helpers.
pub const COMPAT_H: Header<'static> =
    Header { name: "common/compat.h", code: include_str!("../../../kernels/common/compat.h") };

/// `kernels/common/quant.h`: decoding of ggml's block formats (matmul, get_rows).
pub const QUANT_H: Header<'static> =
    Header { name: "common/quant.h", code: include_str!("../../../kernels/common/quant.h") };

/// `kernels/common/activations.h`: F32/F16 activation loads (matvec, matmul).
pub const ACTIVATIONS_H: Header<'static> =
    Header { name: "common/activations.h", code: include_str!("../../../kernels/common/activations.h") };

/// Every header a kernel source may include.
pub const HEADERS: &[Header<'static>] = &[COMPAT_H, QUANT_H, ACTIVATIONS_H];

/// Identity of a `'static` source: its text's address and length.
type SourceId = (usize, usize);

fn source_id(src: &KernelSource<'static>) -> SourceId {
    (src.code.as_ptr() as usize, src.code.len())
}

/// Loaded modules and looked-up functions of one backend instance.
#[derive(Default)]
pub(crate) struct KernelTable {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    modules: HashMap<SourceId, Module>,
    functions: HashMap<(SourceId, &'static str), Function>,
}

impl KernelTable {
    /// Kernel `name` of `src`: compiled (through the disk cache) and loaded
    /// on first use.
    pub fn function(
        &self,
        device: &Device,
        compiler: &Compiler,
        target: &Target,
        src: &KernelSource<'static>,
        name: &'static str,
    ) -> Result<Function> {
        let id = source_id(src);
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { modules, functions } = &mut *guard;
        if let Some(f) = functions.get(&(id, name)) {
            return Ok(*f);
        }
        let module = match modules.entry(id) {
            Entry::Occupied(m) => m.into_mut(),
            Entry::Vacant(slot) => {
                let compiled = compiler.compile(src, target)?;
                slot.insert(device.load_module(&compiled.code)?)
            }
        };
        let f = device.function(module, name)?;
        functions.insert((id, name), f);
        Ok(f)
    }

    /// Remove every module (for teardown; the caller unloads them).
    pub fn drain(&self) -> Vec<Module> {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.functions.clear();
        t.modules.drain().map(|(_, m)| m).collect()
    }
}
