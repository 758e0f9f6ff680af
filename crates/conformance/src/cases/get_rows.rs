//! Conformance cases for `get_rows` (every weight type, ids repeated and out
//! of order, one id and many) and `set_rows` (F32 rows into F32, F16 and
//! BF16 tables, repeated ids: the last occurrence wins). Both are exact: the
//! decoded or converted bits must equal the oracle's.

use rocmforge_backend_api::op::{GetRowsArgs, SetRowsArgs};
use rocmforge_backend_api::{DType, Op, OpKind};

use super::random;
use crate::{tolerance, Case, HostTensor};

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut seed = 2000;
    let many = [7, 0, 10, 7, 3, 3, 9, 1];
    for t in DType::WEIGHTS {
        // Row length: 2 blocks (3 for the legacy types), or odd for floats.
        let k = match t.block_len() {
            1 => 37,
            32 => 96,
            _ => 512,
        };
        for ids in [&many[..], &[10][..]] {
            seed += 1;
            v.push(get_rows(t, k, 11, ids, seed));
        }
    }
    // A long row from a bigger table (many blocks per thread grid).
    v.push(get_rows(DType::Q4K, 4096, 40, &[39, 0, 17, 17, 2], 2100));
    v.push(get_rows(DType::F16, 2048 + 3, 9, &[8, 4, 0], 2101));

    for t in [DType::F32, DType::F16, DType::BF16] {
        v.push(set_rows(t, 37, 9, &[4, 1, 8, 0, 1], 2200));
        v.push(set_rows(t, 256, 5, &[3], 2201));
        v.push(set_rows(t, 64, 33, &[32, 5, 5, 5, 0, 31, 7, 6, 20, 11, 5], 2202));
    }
    v
}

fn get_rows(t: DType, k: usize, rows: usize, ids: &[i32], seed: u64) -> Case {
    let table = random(k * rows, seed, 2.0);
    let m = ids.len();
    Case {
        op: OpKind::GetRows,
        label: format!("{t} table[{k},{rows}] ids[{m}]"),
        inputs: vec![HostTensor::quantized(t, &[k, rows], &table), HostTensor::i32(&[m], ids)],
        out_dtype: DType::F32,
        out_shape: vec![k, m],
        tolerance: tolerance::DEQUANTIZE,
        call: Box::new(|d, out, run| run(&Op::GetRows(&GetRowsArgs { table: d[0], ids: d[1], out }))),
    }
}

/// `src [k, ids.len()]` into a `dst [k, rows]` of type `t`. Rows no id names
/// keep what the harness put there (its sentinel bytes) on both backends.
fn set_rows(t: DType, k: usize, rows: usize, ids: &[i32], seed: u64) -> Case {
    let m = ids.len();
    let src = random(k * m, seed, 3.0);
    Case {
        op: OpKind::SetRows,
        label: format!("f32 src[{k},{m}] -> {t} dst[{k},{rows}]"),
        inputs: vec![HostTensor::f32(&[k, m], &src), HostTensor::i32(&[m], ids)],
        out_dtype: t,
        out_shape: vec![k, rows],
        tolerance: tolerance::EXACT,
        call: Box::new(|d, out, run| run(&Op::SetRows(&SetRowsArgs { src: d[0], ids: d[1], dst: out }))),
    }
}
