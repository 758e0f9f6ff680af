//! Parses arbitrary bytes as GGUF. The parser must never panic; a file it
//! accepts must answer every accessor without panicking, and must survive a
//! rewrite: the writer writes it, the reader reads that back, and a second
//! rewrite gives the same bytes.
//!
//! Crashing inputs land in `artifacts/gguf_parse/`; copy them into
//! `crates/core/tests/fixtures/gguf-broken/` (named for what is wrong) so the
//! stable test suite keeps them as regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rocmforge_core::gguf::{GgufFile, GgufWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(f) = GgufFile::from_bytes(data) else {
        return;
    };
    for (k, _) in f.metadata() {
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
        let _ = f.get_f32_opt(k);
        let _ = f.get_str_opt(k);
        let _ = f.get_str_array_opt(k);
        let _ = f.get(k).map(|v| (v.depth(), v.type_description()));
    }
    assert!(f.alignment().is_power_of_two());
    assert_eq!(f.data_offset() % f.alignment(), 0);
    let _ = f.data_section();
    for t in f.tensors() {
        assert_eq!(f.tensor_data(t).len() as u64, t.n_bytes());
        assert_eq!(t.offset() % f.alignment(), 0);
        assert_eq!(f.tensor(t.name()), Some(t));
        let _ = (t.n_elements(), t.row_len(), t.n_rows());
    }

    // A file without tensors may declare a huge alignment; rewriting it
    // would pad the header that far.
    if f.alignment() > 1 << 16 {
        return;
    }
    let once = GgufWriter::from_gguf(&f)
        .and_then(|w| w.to_bytes())
        .expect("rewrite of an accepted file");
    let g = GgufFile::from_bytes(once.clone()).expect("reread of a rewritten file");
    assert_eq!(g.metadata_len(), f.metadata_len());
    assert_eq!(g.tensor_count(), f.tensor_count());
    let twice = GgufWriter::from_gguf(&g)
        .and_then(|w| w.to_bytes())
        .expect("second rewrite");
    assert!(once == twice, "rewrite is not idempotent");
});
