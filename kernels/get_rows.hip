// get_rows.hip: embedding lookup (get_rows) and row scatter (set_rows).
//
// get_rows_<ttype>: out[:, i] = table[:, ids[i]] decoded to f32, bit for bit
//   what the CPU oracle's dequantize_row gives (common/quant.h). table is
//   [K, V] with rows of row_bytes bytes, ids [M] I32, out [K, M] F32. An id
//   outside 0..V gives a zero row (the op's contract for backends that
//   cannot report it synchronously); nothing outside the table is read.
//   Quantized tables: one thread per run of 8 elements; float tables: one
//   thread per element. 1-D grid over all of out, 64-bit indices.
//
// set_rows_<dtype>: dst[:, ids[i]] = src[:, i] converted from f32 to dst's
//   type (F32, F16 or BF16, rounding to nearest even as the oracle). One
//   block per source row. Out-of-range ids are skipped. With a repeated id
//   the last occurrence wins, as on the CPU (which writes rows in order):
//   a row first checks whether a later row has the same id and then writes
//   nothing, so the result does not depend on the order blocks run in.
//
// The host (crates/backend-hip/src/ops/get_rows.rs) guarantees K, M (and V,
// R) fit in i32, and the tables are aligned as their loads assume.
#include "common/compat.h"
#include "common/quant.h"

#define RF_ROWS_THREADS 256

// ---- get_rows -----------------------------------------------------------------

template <class Q>
RF_DEVICE void get_rows_q(const rf_u8* table, const rf_i32* ids, float* out, int K, int V, int M, rf_u64 row_bytes) {
    const rf_u64 runs = (rf_u64)(K / 8);
    const rf_u64 idx = (rf_u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= runs * (rf_u64)M) return;
    const int i = (int)(idx / runs);
    const int r = (int)(idx % runs);
    const int id = ids[i];
    float v[8];
    if (id >= 0 && id < V) {
        const rf_u8* row = table + (rf_u64)id * row_bytes;
        Q::run(row + (rf_u64)(r / (Q::QK / 8)) * Q::BYTES, r % (Q::QK / 8), v);
    } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) v[e] = 0.0f;
    }
    float* o = out + (rf_u64)i * K + 8 * r;
#pragma unroll
    for (int e = 0; e < 8; ++e) o[e] = v[e];
}

template <class F>
RF_DEVICE void get_rows_f(const rf_u8* table, const rf_i32* ids, float* out, int K, int V, int M, rf_u64 row_bytes) {
    const rf_u64 idx = (rf_u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (K == 0 || idx >= (rf_u64)K * (rf_u64)M) return;
    const int i = (int)(idx / (rf_u64)K);
    const int k = (int)(idx % (rf_u64)K);
    const int id = ids[i];
    out[idx] = (id >= 0 && id < V) ? F::load(table + (rf_u64)id * row_bytes, k) : 0.0f;
}

// Launch: grid ceil(M * K / 8 / RF_ROWS_THREADS) (quantized) or
// ceil(M * K / RF_ROWS_THREADS) (float), block RF_ROWS_THREADS.
#define RF_GET_ROWS_PARAMS \
    const rf_u8 *__restrict__ table, const rf_i32 *__restrict__ ids, float *__restrict__ out, int K, int V, int M, rf_u64 row_bytes

#define RF_GET_ROWS_Q(NAME, Q)                                                  \
    extern "C" __global__ void get_rows_##NAME(RF_GET_ROWS_PARAMS) {           \
        get_rows_q<Q>(table, ids, out, K, V, M, row_bytes);                    \
    }
#define RF_GET_ROWS_F(NAME, F)                                                  \
    extern "C" __global__ void get_rows_##NAME(RF_GET_ROWS_PARAMS) {           \
        get_rows_f<F>(table, ids, out, K, V, M, row_bytes);                    \
    }

RF_GET_ROWS_F(f32, rf_w_f32)
RF_GET_ROWS_F(f16, rf_w_f16)
RF_GET_ROWS_F(bf16, rf_w_bf16)
RF_GET_ROWS_Q(q4_0, rf_q4_0)
RF_GET_ROWS_Q(q4_1, rf_q4_1)
RF_GET_ROWS_Q(q5_0, rf_q5_0)
RF_GET_ROWS_Q(q5_1, rf_q5_1)
RF_GET_ROWS_Q(q8_0, rf_q8_0)
RF_GET_ROWS_Q(q2_K, rf_q2_K)
RF_GET_ROWS_Q(q3_K, rf_q3_K)
RF_GET_ROWS_Q(q4_K, rf_q4_K)
RF_GET_ROWS_Q(q5_K, rf_q5_K)
RF_GET_ROWS_Q(q6_K, rf_q6_K)

// ---- set_rows -------------------------------------------------------------------

struct rf_store_f16 {
    static RF_DEVICE void store(rf_u8* row, int k, float v) { ((rf_u16*)row)[k] = rf_f32_to_f16(v); }
};
struct rf_store_bf16 {
    static RF_DEVICE void store(rf_u8* row, int k, float v) { ((rf_u16*)row)[k] = rf_f32_to_bf16(v); }
};
struct rf_store_f32 {
    static RF_DEVICE void store(rf_u8* row, int k, float v) { ((float*)row)[k] = v; }
};

// Block i (of M) writes source row i; blockDim.x threads.
template <class S>
RF_DEVICE void set_rows_t(const float* src, const rf_i32* ids, rf_u8* dst, int K, int R, int M, rf_u64 row_bytes) {
    __shared__ int superseded;
    const int i = blockIdx.x;
    if (i >= M) return;
    const int id = ids[i];
    if (id < 0 || id >= R) return;  // uniform over the block
    if (threadIdx.x == 0) superseded = 0;
    __syncthreads();
    for (int j = i + 1 + (int)threadIdx.x; j < M; j += blockDim.x) {
        if (ids[j] == id) superseded = 1;  // benign race: every writer stores 1
    }
    __syncthreads();
    if (superseded) return;
    const float* s = src + (rf_u64)i * K;
    rf_u8* row = dst + (rf_u64)id * row_bytes;
    for (int k = threadIdx.x; k < K; k += blockDim.x) S::store(row, k, s[k]);
}

// Launch: grid (M), block RF_ROWS_THREADS.
#define RF_SET_ROWS_PARAMS \
    const float *__restrict__ src, const rf_i32 *__restrict__ ids, rf_u8 *__restrict__ dst, int K, int R, int M, rf_u64 row_bytes

extern "C" __global__ void set_rows_f32(RF_SET_ROWS_PARAMS) {
    set_rows_t<rf_store_f32>(src, ids, dst, K, R, M, row_bytes);
}
extern "C" __global__ void set_rows_f16(RF_SET_ROWS_PARAMS) {
    set_rows_t<rf_store_f16>(src, ids, dst, K, R, M, row_bytes);
}
extern "C" __global__ void set_rows_bf16(RF_SET_ROWS_PARAMS) {
    set_rows_t<rf_store_bf16>(src, ids, dst, K, R, M, row_bytes);
}
