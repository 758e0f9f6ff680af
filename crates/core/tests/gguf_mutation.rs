//! Deterministic mutation testing of the GGUF reader, on stable Rust: valid
//! small files (and the broken-file corpus) go through thousands of seeded
//! random mutations — bit flips, interesting integers written over counts
//! and lengths, truncations, insertions, deletions, duplicated ranges — and
//! the parser must never panic, must allocate at most a small multiple of
//! the input's size, and every file it accepts must survive a rewrite.
//!
//! It complements the libFuzzer target in `crates/core/fuzz/` (nightly),
//! which explores further but does not run in CI. A failing input is saved
//! to the temp dir; copy it into `tests/fixtures/gguf-broken/`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocmforge_backend_api::DType;
use rocmforge_core::gguf::{Array, GgufFile, GgufWriter, Value, ALIGNMENT_KEY};

// ---- allocation accounting (per thread, so parallel tests do not mix) ----

struct CountingAlloc;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now)
            }
        });
    });
}

// SAFETY: forwards to the system allocator; only adds bookkeeping in
// const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f`, returning its result and the most bytes it had allocated at
/// once (on this thread) beyond what was allocated before.
fn peak_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - start).max(0) as usize)
}

/// The parser may allocate this many bytes per input byte (the file is
/// copied into memory first, outside the measurement), plus a constant.
const ALLOC_PER_BYTE: usize = 16;
const ALLOC_SLACK: usize = 64 * 1024;

/// Mutated alignments go up to 2^31; the writer pads to whatever the file
/// asks, so the rewrite check is skipped above this.
const MAX_REWRITE_ALIGNMENT: u64 = 1 << 16;

// ---- seeds ----

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();

    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", "llama").unwrap();
    w.add_metadata("llama.block_count", 2u32).unwrap();
    w.add_metadata("tokenizer.ggml.tokens", vec!["a", "bc", ""]).unwrap();
    w.add_metadata("tokenizer.ggml.scores", vec![0.5f32, 1.0, -2.0]).unwrap();
    w.add_metadata("tokenizer.ggml.token_type", vec![1i32, 2, 3]).unwrap();
    w.add_tensor("a", DType::F32, &[4, 2], (0..32).collect::<Vec<u8>>()).unwrap();
    w.add_tensor("b", DType::Q8_0, &[32], vec![7; 34]).unwrap();
    seeds.push(("small".to_owned(), w.to_bytes().unwrap()));

    let mut w = GgufWriter::new();
    let values: Vec<Value> = vec![
        1u8.into(),
        (-1i8).into(),
        2u16.into(),
        (-2i16).into(),
        3u32.into(),
        (-3i32).into(),
        4.5f32.into(),
        true.into(),
        "s".into(),
        5u64.into(),
        (-5i64).into(),
        6.5f64.into(),
        vec![true, false].into(),
        vec![1u16, 2].into(),
        vec![-1i64].into(),
        vec![Array::from(vec![1u8]), Array::from(vec!["x"])].into(),
        Array::Array(vec![Array::Array(vec![Array::from(vec![1.0f64])])]).into(),
    ];
    for (i, v) in values.into_iter().enumerate() {
        w.add_metadata(format!("k{i}"), v).unwrap();
    }
    for (i, t) in DType::ALL.into_iter().enumerate() {
        let n = t.row_bytes(t.block_len() as u64).unwrap() as usize;
        w.add_tensor(format!("t{i}"), t, &[t.block_len() as u64], vec![i as u8; n]).unwrap();
    }
    seeds.push(("all-types".to_owned(), w.to_bytes().unwrap()));

    let mut w = GgufWriter::new();
    w.add_metadata(ALIGNMENT_KEY, 64u32).unwrap();
    w.add_tensor("s", DType::F16, &[], vec![1, 2]).unwrap();
    w.add_tensor("m", DType::Q4K, &[256, 1, 1, 2], vec![3; 288]).unwrap();
    let mut v2 = w.to_bytes().unwrap();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    seeds.push(("aligned-v2".to_owned(), v2));

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf-broken");
    let mut broken: Vec<_> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    broken.sort();
    for path in broken {
        if let Ok(bytes) = std::fs::read(&path) {
            if bytes.len() <= 4096 {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                seeds.push((name, bytes));
            }
        }
    }
    seeds
}

// ---- mutations ----

const INTERESTING_U32: [u32; 16] = [0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 255, 0x7fff_ffff, 0x8000_0000, u32::MAX];

const INTERESTING_U64: [u64; 14] =
    [0, 1, 2, 7, 8, 32, 64, 256, 1 << 32, 1 << 40, 1 << 60, i64::MAX as u64, u64::MAX / 4, u64::MAX];

/// A position, biased towards the header where the counts and lengths are.
fn pos(rng: &mut StdRng, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if rng.gen_bool(0.6) {
        rng.gen_range(0..len.min(256))
    } else {
        rng.gen_range(0..len)
    }
}

fn mutate(rng: &mut StdRng, data: &mut Vec<u8>) {
    let len = data.len();
    match rng.gen_range(0..10) {
        0 | 1 if len > 0 => {
            let p = pos(rng, len);
            data[p] ^= 1 << rng.gen_range(0..8);
        }
        2 if len > 0 => {
            let p = pos(rng, len);
            data[p] = [0, 1, 2, 0x7f, 0x80, 0xff][rng.gen_range(0..6)];
        }
        3 if len >= 4 => {
            let p = pos(rng, len - 3);
            let v = INTERESTING_U32[rng.gen_range(0..INTERESTING_U32.len())];
            data[p..p + 4].copy_from_slice(&v.to_le_bytes());
        }
        4 if len >= 8 => {
            let p = pos(rng, len - 7);
            let v = match rng.gen_range(0..3) {
                0 => (len as u64 + rng.gen_range(0..64)).saturating_sub(32),
                _ => INTERESTING_U64[rng.gen_range(0..INTERESTING_U64.len())],
            };
            data[p..p + 8].copy_from_slice(&v.to_le_bytes());
        }
        5 => {
            let p = pos(rng, len + 1).min(len);
            data.truncate(p);
        }
        6 => {
            let p = pos(rng, len + 1).min(len);
            let n = rng.gen_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            data.splice(p..p, bytes);
        }
        7 if len > 0 => {
            let p = pos(rng, len);
            let n = rng.gen_range(1..=16).min(len - p);
            data.drain(p..p + n);
        }
        8 if len > 0 => {
            let from = rng.gen_range(0..len);
            let n = rng.gen_range(1..=32).min(len - from);
            let chunk = data[from..from + n].to_vec();
            let to = pos(rng, len + 1).min(len);
            data.splice(to..to, chunk);
        }
        _ if len > 0 => {
            let p = rng.gen_range(0..len);
            data[p] = rng.gen();
        }
        _ => data.push(rng.gen()),
    }
}

// ---- the properties ----

/// Reads everything a caller could read from an accepted file.
fn touch_everything(f: &GgufFile) {
    let keys: Vec<String> = f.metadata().map(|(k, _)| k.to_owned()).collect();
    for k in &keys {
        let _ = f.get_u32(k);
        let _ = f.get_i32(k);
        let _ = f.get_u64(k);
        let _ = f.get_i64(k);
        let _ = f.get_usize(k);
        let _ = f.get_f32(k);
        let _ = f.get_f64(k);
        let _ = f.get_bool(k);
        let _ = f.get_str(k);
        let _ = f.get_array(k);
        let _ = f.get_str_array(k);
        let _ = f.get_i32_array(k);
        let _ = f.get_u32_array(k);
        let _ = f.get_f32_array(k);
        let _ = f.get_int_array::<u8>(k);
        let _ = f.get_u32_opt(k);
        let _ = f.get_str_opt(k);
        let _ = f.get(k).map(|v| (v.depth(), v.type_description()));
    }
    assert!(f.alignment().is_power_of_two());
    assert_eq!(f.data_offset() % f.alignment(), 0);
    let _ = f.data_section();
    for t in f.tensors() {
        let data = f.tensor_data(t);
        assert_eq!(data.len() as u64, t.n_bytes());
        assert_eq!(t.offset() % f.alignment(), 0);
        assert_eq!(f.tensor(t.name()), Some(t));
        let _ = (t.n_elements(), t.row_len(), t.n_rows(), t.dims(), t.dtype());
    }
}

/// Checks one input: `Ok(accepted)`, or `Err` describing a violated
/// property.
fn check(input: &[u8]) -> Result<bool, String> {
    let owned = input.to_vec();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let (parsed, peak) = peak_alloc(|| GgufFile::from_bytes(owned));
        let limit = ALLOC_PER_BYTE * input.len() + ALLOC_SLACK;
        if peak > limit {
            return Err(format!("parsing allocated {peak} bytes for {} input bytes", input.len()));
        }
        let Ok(f) = parsed else { return Ok(false) };
        touch_everything(&f);
        if f.alignment() > MAX_REWRITE_ALIGNMENT {
            // Accepted (a file without tensors needs no data section), but a
            // rewrite would pad the header to a huge alignment.
            return Ok(true);
        }
        // Whatever the reader accepts, the writer writes and the reader reads
        // back, and a second rewrite changes nothing.
        let once = GgufWriter::from_gguf(&f).and_then(|w| w.to_bytes()).map_err(|e| format!("rewrite failed: {e}"))?;
        let g = GgufFile::from_bytes(once.clone()).map_err(|e| format!("reread failed: {e}"))?;
        let twice =
            GgufWriter::from_gguf(&g).and_then(|w| w.to_bytes()).map_err(|e| format!("second rewrite failed: {e}"))?;
        if once != twice {
            return Err("rewrite is not idempotent".to_owned());
        }
        Ok(true)
    }));
    match outcome {
        Ok(r) => r,
        Err(_) => Err("panicked".to_owned()),
    }
}

fn save_failure(name: &str, i: usize, input: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("gguf-mutation-{name}-{i}.gguf"));
    let _ = std::fs::write(&path, input);
    path
}

fn run_mutations(seed: u64, iterations: usize) {
    let seeds = seeds();
    // The valid seeds come first.
    let mut n_valid = 0;
    for (name, bytes) in &seeds {
        let accepted = check(bytes).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        if accepted {
            assert_eq!(n_valid, seeds.iter().position(|(n, _)| n == name).unwrap());
            n_valid += 1;
        }
    }
    assert!(n_valid >= 3);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accepted = 0;
    for i in 0..iterations {
        // Half the time a valid seed, half the time any (the broken corpus
        // reaches the error paths).
        let pick = if rng.gen_bool(0.5) { n_valid } else { seeds.len() };
        let (name, base) = &seeds[rng.gen_range(0..pick)];
        let mut data = base.clone();
        for _ in 0..rng.gen_range(1..=4) {
            mutate(&mut rng, &mut data);
        }
        match check(&data) {
            Ok(ok) => accepted += usize::from(ok),
            Err(e) => {
                let path = save_failure(name, i, &data);
                panic!("mutation {i} of seed {name}: {e}; input saved to {}", path.display());
            }
        }
    }
    println!("{iterations} mutated files, {accepted} accepted");
    // Mutations that keep a file valid (a flipped tensor byte, a changed
    // value) exercise the accessors and the rewrite; there must be some.
    assert!(accepted > iterations / 50, "only {accepted} accepted");
}

#[test]
fn mutated_files_never_panic_or_overallocate_a() {
    run_mutations(0x6767_7566, 50_000);
}

#[test]
fn mutated_files_never_panic_or_overallocate_b() {
    run_mutations(0x726f_636d, 50_000);
}

#[test]
fn allocation_accounting_sees_allocations() {
    let (v, peak) = peak_alloc(|| vec![0u8; 100_000]);
    assert!(peak >= 100_000);
    drop(v);
}

/// Inputs built to make the parser allocate the most per input byte: the
/// smallest metadata entries, arrays of empty strings and of empty arrays,
/// the smallest tensor infos. Each must stay within the bound the mutation
/// tests assert (and reports how close it came).
#[test]
fn densest_inputs_stay_within_the_allocation_bound() {
    fn header(n_tensors: u64, n_kv: u64) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&n_tensors.to_le_bytes());
        v.extend_from_slice(&n_kv.to_le_bytes());
        v
    }
    const N: u64 = 20_000;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();

    // Distinct keys of at most 3 bytes, u8 values.
    let mut kvs = header(0, N);
    for i in 0..N {
        let key = format!("{i:x}");
        kvs.extend_from_slice(&(key.len() as u64).to_le_bytes());
        kvs.extend_from_slice(key.as_bytes());
        kvs.extend_from_slice(&0u32.to_le_bytes());
        kvs.push(0);
    }
    cases.push(("tiny metadata entries", kvs));

    let mut strings = header(0, 1);
    strings.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, b'k', 9, 0, 0, 0, 8, 0, 0, 0]);
    strings.extend_from_slice(&N.to_le_bytes());
    strings.resize(strings.len() + 8 * N as usize, 0);
    cases.push(("array of empty strings", strings));

    let mut arrays = header(0, 1);
    arrays.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, b'k', 9, 0, 0, 0, 9, 0, 0, 0]);
    arrays.extend_from_slice(&N.to_le_bytes());
    for _ in 0..N {
        arrays.extend_from_slice(&0u32.to_le_bytes());
        arrays.extend_from_slice(&0u64.to_le_bytes());
    }
    cases.push(("array of empty arrays", arrays));

    let mut tensors = header(N, 0);
    for i in 0..N {
        let name = format!("{i:x}");
        tensors.extend_from_slice(&(name.len() as u64).to_le_bytes());
        tensors.extend_from_slice(name.as_bytes());
        tensors.extend_from_slice(&1u32.to_le_bytes()); // one dim
        tensors.extend_from_slice(&0u64.to_le_bytes()); // of 0 elements
        tensors.extend_from_slice(&0u32.to_le_bytes()); // f32
        tensors.extend_from_slice(&0u64.to_le_bytes()); // offset 0
    }
    tensors.resize(tensors.len().next_multiple_of(32), 0);
    cases.push(("smallest tensor infos", tensors));

    for (what, bytes) in cases {
        let len = bytes.len();
        let (parsed, peak) = peak_alloc(|| GgufFile::from_bytes(bytes));
        let f = parsed.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(f.metadata_len() + f.tensor_count() >= 1);
        let ratio = peak as f64 / len as f64;
        println!("{what}: {len} bytes, peak {peak} bytes allocated ({ratio:.1}x)");
        assert!(peak <= ALLOC_PER_BYTE * len + ALLOC_SLACK, "{what}: {ratio:.1}x");
    }
}
