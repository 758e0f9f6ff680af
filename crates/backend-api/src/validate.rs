//! Shape, dtype and layout checks for every op, run by the host before a call
//! crosses into a backend (and by backends on entry). A bad shape must never
//! reach a kernel: a silent mismatch turns into garbage or a hang on a GPU.
//!
//! What is checked here is everything knowable from the descriptors. What
//! needs the data (ids in range) or the backend's own state (buffer sizes) is
//! checked by the backend.

use crate::op::*;
use crate::{BackendError, DType, Op, Result, TensorDesc};

/// Check `op` against its contract (see [`crate::op`]).
pub fn validate_op(op: &Op<'_>) -> Result<()> {
    let name = op.name();
    let v = V { op: name };
    let operands = op.operands();
    for (role, t) in &operands {
        if !t.is_none() {
            v.well_formed(role, t)?;
        }
    }
    // The output must not alias any input.
    if let Some(((out_role, out), inputs)) = operands.split_last() {
        v.present(out_role, out)?;
        for (role, t) in inputs {
            if out.overlaps(t) {
                return Err(v.err(out_role, format!("no overlap with {role}"), "overlapping byte ranges".into()));
            }
        }
    }
    match *op {
        Op::Matmul(a) => matmul(&v, a),
        Op::GetRows(a) => get_rows(&v, a),
        Op::SetRows(a) => set_rows(&v, a),
        Op::RmsNorm(a) => {
            v.absent("bias", &a.bias)?;
            norm(&v, a)
        }
        Op::LayerNorm(a) => norm(&v, a),
        Op::Rope(a) => rope(&v, a),
        Op::Attention(a) => attention(&v, a),
        Op::Add(a) | Op::Mul(a) => binary(&v, a),
        Op::Scale(a) => {
            v.dtypes("x", &a.x, &[DType::F32])?;
            v.dtypes("out", &a.out, &[DType::F32])?;
            v.same_shape("out", &a.out, &a.x)
        }
        Op::SiluMul(a) | Op::GeluMul(a) => {
            for (r, t) in [("gate", &a.gate), ("up", &a.up), ("out", &a.out)] {
                v.dtypes(r, t, &[DType::F32])?;
            }
            v.same_shape("up", &a.up, &a.gate)?;
            v.same_shape("out", &a.out, &a.gate)
        }
        Op::Softmax(a) => {
            v.dtypes("x", &a.x, &[DType::F32])?;
            v.dtypes("out", &a.out, &[DType::F32])?;
            v.same_shape("out", &a.out, &a.x)
        }
        Op::Argmax(a) => {
            v.dtypes("x", &a.x, &[DType::F32])?;
            v.dtypes("out", &a.out, &[DType::I32])?;
            v.shape("out", &a.out, &[a.x.rows() as i64])
        }
        Op::Copy(a) => copy(&v, a),
    }
}

struct V {
    op: &'static str,
}

impl V {
    fn err(&self, operand: &'static str, expected: String, got: String) -> BackendError {
        BackendError::Shape { op: self.op, operand, expected, got }
    }

    fn present(&self, role: &'static str, t: &TensorDesc) -> Result<()> {
        if t.is_none() {
            return Err(self.err(role, "a tensor".into(), "none".into()));
        }
        Ok(())
    }

    fn absent(&self, role: &'static str, t: &TensorDesc) -> Result<()> {
        if !t.is_none() {
            return Err(self.err(role, "none".into(), format!("{:?}", t.shape())));
        }
        Ok(())
    }

    fn well_formed(&self, role: &'static str, t: &TensorDesc) -> Result<()> {
        let Some(dt) = t.dtype() else {
            return Err(self.err(role, "a known dtype".into(), format!("type id {}", t.dtype)));
        };
        if t.byte_range().is_none() {
            return Err(self.err(
                role,
                format!("non-negative dims, whole {dt} blocks, no overflow"),
                format!("ne {:?} nb {:?}", t.ne, t.nb),
            ));
        }
        Ok(())
    }

    fn dtypes(&self, role: &'static str, t: &TensorDesc, ok: &[DType]) -> Result<()> {
        self.present(role, t)?;
        match t.dtype() {
            Some(d) if ok.contains(&d) => {}
            other => {
                let names: Vec<_> = ok.iter().map(|d| d.name()).collect();
                let got = other.map_or(format!("type id {}", t.dtype), |d| d.name().to_string());
                return Err(self.err(role, names.join("|"), got));
            }
        }
        if !t.is_contiguous() {
            return Err(self.err(role, "contiguous".into(), format!("ne {:?} nb {:?}", t.ne, t.nb)));
        }
        Ok(())
    }

    fn shape(&self, role: &'static str, t: &TensorDesc, want: &[i64]) -> Result<()> {
        let mut ne = [1i64; 4];
        ne[..want.len()].copy_from_slice(want);
        if t.ne != ne {
            // Show the found shape with as many dims as the expected one.
            let shown = t.shape().len().max(want.len());
            return Err(self.err(role, format!("shape {want:?}"), format!("{:?}", &t.ne[..shown])));
        }
        Ok(())
    }

    fn same_shape(&self, role: &'static str, t: &TensorDesc, like: &TensorDesc) -> Result<()> {
        if t.ne != like.ne {
            return Err(self.err(role, format!("shape {:?}", like.shape()), format!("{:?}", t.shape())));
        }
        Ok(())
    }

    /// A tensor of at most `dims` dims (the rest must be 1).
    fn max_dims(&self, role: &'static str, t: &TensorDesc, dims: usize) -> Result<()> {
        if t.ne[dims..].iter().any(|&n| n != 1) {
            return Err(self.err(role, format!("at most {dims} dims"), format!("{:?}", t.shape())));
        }
        Ok(())
    }
}

fn matmul(v: &V, a: &MatmulArgs) -> Result<()> {
    v.dtypes("w", &a.w, &DType::WEIGHTS)?;
    v.dtypes("x", &a.x, &[DType::F32, DType::F16])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.max_dims("w", &a.w, 2)?;
    v.max_dims("x", &a.x, 2)?;
    let (k, n, m) = (a.w.ne[0], a.w.ne[1], a.x.ne[1]);
    v.shape("x", &a.x, &[k, m])?;
    v.shape("out", &a.out, &[n, m])
}

fn get_rows(v: &V, a: &GetRowsArgs) -> Result<()> {
    v.dtypes("table", &a.table, &DType::WEIGHTS)?;
    v.dtypes("ids", &a.ids, &[DType::I32])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.max_dims("table", &a.table, 2)?;
    v.max_dims("ids", &a.ids, 1)?;
    v.shape("out", &a.out, &[a.table.ne[0], a.ids.ne[0]])
}

fn set_rows(v: &V, a: &SetRowsArgs) -> Result<()> {
    v.dtypes("src", &a.src, &[DType::F32])?;
    v.dtypes("ids", &a.ids, &[DType::I32])?;
    v.dtypes("dst", &a.dst, &[DType::F32, DType::F16, DType::BF16])?;
    v.max_dims("src", &a.src, 2)?;
    v.shape("ids", &a.ids, &[a.src.ne[1]])?;
    // The destination is a table of rows as long as src's: any row count.
    if a.dst.ne[0] != a.src.ne[0] || a.dst.ne[2..].iter().any(|&n| n != 1) {
        return Err(v.err("dst", format!("shape [{}, rows]", a.src.ne[0]), format!("{:?}", a.dst.shape())));
    }
    Ok(())
}

fn norm(v: &V, a: &NormArgs) -> Result<()> {
    v.dtypes("x", &a.x, &[DType::F32])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.same_shape("out", &a.out, &a.x)?;
    for (role, t) in [("weight", &a.weight), ("bias", &a.bias)] {
        if !t.is_none() {
            v.dtypes(role, t, &[DType::F32])?;
            v.shape(role, t, &[a.x.ne[0]])?;
        }
    }
    if !(a.eps >= 0.0 && a.eps.is_finite()) {
        return Err(v.err("eps", "finite and >= 0".into(), a.eps.to_string()));
    }
    Ok(())
}

fn rope(v: &V, a: &RopeArgs) -> Result<()> {
    v.dtypes("x", &a.x, &[DType::F32])?;
    v.dtypes("positions", &a.positions, &[DType::I32])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.max_dims("x", &a.x, 3)?;
    v.same_shape("out", &a.out, &a.x)?;
    v.shape("positions", &a.positions, &[a.x.ne[2]])?;
    let p = &a.params;
    if p.n_dims == 0 || !p.n_dims.is_multiple_of(2) || i64::from(p.n_dims) > a.x.ne[0] {
        return Err(v.err("n_dims", format!("even, in 2..={}", a.x.ne[0]), p.n_dims.to_string()));
    }
    if p.mode != ROPE_NORMAL && p.mode != ROPE_NEOX {
        return Err(v.err("mode", format!("{ROPE_NORMAL} (normal) or {ROPE_NEOX} (neox)"), p.mode.to_string()));
    }
    if !a.freq_factors.is_none() {
        v.dtypes("freq_factors", &a.freq_factors, &[DType::F32])?;
        v.shape("freq_factors", &a.freq_factors, &[i64::from(p.n_dims / 2)])?;
    }
    if !(p.freq_base > 0.0 && p.freq_scale > 0.0) {
        return Err(v.err("freq_base/freq_scale", "> 0".into(), format!("{}/{}", p.freq_base, p.freq_scale)));
    }
    Ok(())
}

fn attention(v: &V, a: &AttentionArgs) -> Result<()> {
    v.dtypes("q", &a.q, &[DType::F32])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.max_dims("q", &a.q, 3)?;
    v.same_shape("out", &a.out, &a.q)?;
    let cache_types = [DType::F32, DType::F16, DType::BF16];
    v.dtypes("k_cache", &a.k_cache, &cache_types)?;
    v.dtypes("v_cache", &a.v_cache, &cache_types)?;
    let head_dim = a.q.ne[0];
    let n_head = a.q.ne[1];
    let n_kv_head = a.k_cache.ne[1];
    if a.k_cache.ne[0] != head_dim {
        return Err(v.err("k_cache", format!("head_dim {head_dim} (from q)"), format!("{:?}", a.k_cache.shape())));
    }
    v.same_shape("v_cache", &a.v_cache, &a.k_cache)?;
    if n_kv_head == 0 || n_head % n_kv_head != 0 {
        return Err(v.err(
            "k_cache",
            format!("n_kv_head dividing n_head = {n_head}"),
            format!("n_kv_head = {n_kv_head}"),
        ));
    }
    v.dtypes("seqs", &a.seqs, &[DType::I32])?;
    v.dtypes("block_table", &a.block_table, &[DType::I32])?;
    v.max_dims("seqs", &a.seqs, 2)?;
    if a.seqs.ne[0] != 3 {
        return Err(v.err("seqs", "shape [3, n_seqs]".into(), format!("{:?}", a.seqs.shape())));
    }
    v.max_dims("block_table", &a.block_table, 2)?;
    if a.block_table.ne[1] != a.seqs.ne[1] {
        return Err(v.err(
            "block_table",
            format!("[max_blocks, {}] (one column per sequence)", a.seqs.ne[1]),
            format!("{:?}", a.block_table.shape()),
        ));
    }
    let p = &a.params;
    if !(p.scale.is_finite() && p.softcap >= 0.0 && p.softcap.is_finite()) {
        return Err(v.err("params", "finite scale, softcap >= 0".into(), format!("{p:?}")));
    }
    Ok(())
}

fn binary(v: &V, a: &BinaryArgs) -> Result<()> {
    v.dtypes("a", &a.a, &[DType::F32])?;
    v.dtypes("b", &a.b, &[DType::F32])?;
    v.dtypes("out", &a.out, &[DType::F32])?;
    v.same_shape("out", &a.out, &a.a)?;
    if (0..4).any(|d| a.b.ne[d] == 0 || a.a.ne[d] % a.b.ne[d] != 0) {
        return Err(v.err("b", format!("dims dividing a's {:?}", a.a.shape()), format!("{:?}", a.b.shape())));
    }
    Ok(())
}

fn copy(v: &V, a: &CopyArgs) -> Result<()> {
    // Either side may be strided, so only types and shapes are checked.
    let floats = [DType::F32, DType::F16, DType::BF16];
    for (role, t) in [("src", &a.src), ("dst", &a.dst)] {
        v.present(role, t)?;
        if !matches!(t.dtype(), Some(DType::F32 | DType::F16 | DType::BF16 | DType::I32)) {
            return Err(v.err(role, "f32|f16|bf16|i32".into(), format!("type id {}", t.dtype)));
        }
    }
    let (s, d) = (a.src.dtype(), a.dst.dtype());
    let both_int = s == Some(DType::I32) && d == Some(DType::I32);
    let both_float = s.is_some_and(|t| floats.contains(&t)) && d.is_some_and(|t| floats.contains(&t));
    if !both_int && !both_float {
        return Err(v.err("dst", "float to float or i32 to i32".into(), format!("{:?} -> {:?}", s, d)));
    }
    v.same_shape("dst", &a.dst, &a.src)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BufferHandle;

    fn t(buf: u64, off: u64, dt: DType, shape: &[usize]) -> TensorDesc {
        TensorDesc::contiguous(BufferHandle(buf), off, dt, shape)
    }

    #[test]
    fn matmul_shape_mismatch_names_op_operand_expected_and_got() {
        let args = MatmulArgs {
            w: t(1, 0, DType::Q4_0, &[64, 10]),
            x: t(2, 0, DType::F32, &[32, 3]),
            out: t(3, 0, DType::F32, &[10, 3]),
        };
        let e = validate_op(&Op::Matmul(&args)).unwrap_err();
        assert_eq!(e.to_string(), "matmul: x: expected shape [64, 3], got [32, 3]");
    }

    #[test]
    fn output_overlapping_an_input_is_rejected() {
        let args =
            BinaryArgs { a: t(1, 0, DType::F32, &[8]), b: t(1, 0, DType::F32, &[8]), out: t(1, 16, DType::F32, &[8]) };
        let e = validate_op(&Op::Add(&args)).unwrap_err();
        assert!(e.to_string().starts_with("add: out: expected no overlap with a"), "{e}");
    }

    #[test]
    fn gqa_ratio_must_divide() {
        let args = AttentionArgs {
            q: t(1, 0, DType::F32, &[64, 14, 5]),
            k_cache: t(2, 0, DType::F16, &[64, 3, 16, 4]),
            v_cache: t(3, 0, DType::F16, &[64, 3, 16, 4]),
            block_table: t(4, 0, DType::I32, &[4, 1]),
            seqs: t(5, 0, DType::I32, &[3, 1]),
            out: t(6, 0, DType::F32, &[64, 14, 5]),
            params: AttentionParams { scale: 0.125, softcap: 0.0, sliding_window: 0, _reserved: 0 },
        };
        let e = validate_op(&Op::Attention(&args)).unwrap_err();
        assert_eq!(e.to_string(), "attention: k_cache: expected n_kv_head dividing n_head = 14, got n_kv_head = 3");
    }

    #[test]
    fn well_formed_ops_pass() {
        let args = NormArgs {
            x: t(1, 0, DType::F32, &[576, 7]),
            weight: t(2, 0, DType::F32, &[576]),
            bias: TensorDesc::NONE,
            out: t(3, 0, DType::F32, &[576, 7]),
            eps: 1e-5,
            _reserved: 0,
        };
        validate_op(&Op::RmsNorm(&args)).unwrap();
        let args = MatmulArgs {
            w: t(1, 0, DType::Q6K, &[512, 3]),
            x: t(2, 0, DType::F16, &[512, 2]),
            out: t(3, 0, DType::F32, &[3, 2]),
        };
        validate_op(&Op::Matmul(&args)).unwrap();
    }
}
