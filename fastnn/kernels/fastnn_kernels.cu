// fastnn_kernels.cu: the CUDA kernels of fastnn's cupy engine (fastnn/backends/cupy_engine.py).
//
// Compiled by CuPy's RawModule with NVRTC the first time a kernel is used, never at import;
// fastnn/kernels/cuda.py lists every kernel, its template arguments and its parameter types
// (tests/test_cuda_sources.py compiles this file for float and double without a GPU and
// checks that list against the declarations below).
//
// Layout (fastnn/backends/base.py): arrays are C-contiguous with examples in rows, so a
// mini-batch Z is (m examples, units) and the bias b of a layer, (units, 1), is indexed by
// the column: element i of Z belongs to unit i % units.
//
// Conventions:
// * Every kernel is a template over the element type T (float or double), so the two dtypes
//   share one source.
// * Elementwise kernels use grid-stride loops: any grid covers any n, and the Python side
//   caps the grid instead of launching one thread per element.
// * Sizes and indices are long long: 60,000 examples x 784 inputs is already 47 M elements,
//   and products of two ints overflow long before memory runs out. Python must pass them
//   as np.int64 (and T scalars as np.float32/np.float64): CuPy copies each argument with its
//   own size, so a Python float sent to a float parameter arrives as garbage.
// * Outputs may alias inputs (out=Z), so only kernels whose buffers can never overlap use
//   __restrict__.

// Activation codes: the index of the name in fastnn.activations.ACTIVATIONS.
enum Activation { ACT_SIGMOID = 0, ACT_TANH = 1, ACT_RELU = 2, ACT_LEAKY_RELU = 3 };

// g(z). `slope` is the leaky ReLU slope, 0.01 (fastnn.activations.LEAKY_RELU_SLOPE), passed
// in so that the number is written once, in Python. NaN and inf give what the NumPy engine
// gives: every comparison is written so that NaN fails it and flows through unchanged.
template <typename T>
__device__ __forceinline__ T activate(T z, int act, T slope) {
    switch (act) {
    case ACT_SIGMOID: {
        // 1 / (1 + e^-z) for z >= 0 and e^z / (1 + e^z) for z < 0, as the NumPy engine
        // computes it: e^-|z| never overflows (e^-z is inf for z < -88 in float), and neither
        // form loses relative accuracy in the tail (tanh(z/2)/2 + 1/2 is 0 from z = -20).
        T e = exp(-fabs(z));
        return (z < T(0) ? e : T(1)) / (T(1) + e);
    }
    case ACT_TANH:
        return tanh(z);
    case ACT_RELU:
        return z <= T(0) ? T(0) : z;  // np.maximum(z, 0): NaN stays NaN
    default:  // ACT_LEAKY_RELU
        return z > T(0) ? z : slope * z;
    }
}

// dZ = dA * g'(Z), with g'(Z) written through the saved output a = g(z), so Z is not kept:
// sigmoid a (1 - a), tanh 1 - a^2, and for both ReLUs z > 0 exactly when a > 0.
// The products are taken in the NumPy engine's order, so float results agree closely, and
// always taken: NaN or inf in dA gives NaN even where g'(z) = 0, as NumPy's dA * (A > 0).
template <typename T>
__device__ __forceinline__ T activation_gradient(T da, T a, int act, T slope) {
    switch (act) {
    case ACT_SIGMOID:
        return (T(1) - a) * a * da;
    case ACT_TANH:
        return (T(1) - a * a) * da;
    case ACT_RELU:
        return a > T(0) ? da : da * T(0);
    default:  // ACT_LEAKY_RELU
        return a > T(0) ? da : slope * da;
    }
}

// Z += b (one bias per column), then A = g(Z): the non-matmul half of a layer's forward.
// Fused so Z is read and written once; Z keeps the biased values, as in the NumPy engine.
template <typename T>
__global__ void bias_activation(T* Z, const T* __restrict__ b, T* A,
                                long long n, long long units, int act, T slope) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        T z = Z[i] + b[i % units];
        Z[i] = z;
        A[i] = activate<T>(z, act, slope);
    }
}

// A = g(Z), elementwise.
template <typename T>
__global__ void activation_forward(const T* Z, T* A, long long n, int act, T slope) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        A[i] = activate<T>(Z[i], act, slope);
}

// dZ = dA * g'(Z), elementwise; dZ may be dA itself.
template <typename T>
__global__ void activation_backward(const T* dA, const T* A, T* dZ,
                                    long long n, int act, T slope) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        dZ[i] = activation_gradient<T>(dA[i], A[i], act, slope);
}

// The output layer's dZ = A - Y: the sigmoid's derivative and the cross-entropy's cancel.
template <typename T>
__global__ void sigmoid_cross_entropy_backward(const T* A, const T* Y, T* dZ, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        dZ[i] = A[i] - Y[i];
}

// Threads of the one block that computes the cost (a power of two, for the halving below).
#define COST_THREADS 256

// cost[0] = (1/n) sum_i L(sigma(z_i), y_i), from the logits Z, in ONE block.
// -[y log(sigma(z)) + (1 - y) log(1 - sigma(z))] = max(z, 0) - y z + log(1 + e^-|z|): the
// exponent is never positive, so the loss is finite for every finite z (no log(0)).
// One block fixes the order of the additions, so the same inputs give the same bits on
// every run (atomicAdd across blocks would not), and the result is written straight to a
// device scalar: nothing is read back to the host. Sums are kept in double, which costs
// nothing here (n is one number per example) and keeps float32 costs accurate.
template <typename T>
__global__ void cross_entropy_cost(const T* __restrict__ Z, const T* __restrict__ Y,
                                   T* __restrict__ cost, long long n) {
    __shared__ double partial[COST_THREADS];
    double sum = 0.0;
    for (long long i = threadIdx.x; i < n; i += COST_THREADS) {
        T z = Z[i];
        T loss = (z > T(0) ? z : T(0)) - z * Y[i] + log1p(exp(-fabs(z)));
        sum += (double)loss;
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int half = COST_THREADS / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) cost[0] = T(partial[0] / (double)n);
}

// Block shape of column_sum: SUM_COLS neighbouring columns (a warp reads 32 consecutive
// elements of a row: one coalesced load) times SUM_ROWS rows read at once.
#define SUM_COLS 32
#define SUM_ROWS 32

// out[j] = scale * sum_i X[i, j], X (rows, cols) C-contiguous: db = (1/m) sum over examples
// of dZ. Each thread adds every SUM_ROWS-th row of its column, then the SUM_ROWS partial
// sums are added in shared memory, in a fixed order (deterministic). Even one output unit
// (cols = 1) gets SUM_ROWS threads, instead of one thread walking the whole batch.
template <typename T>
__global__ void column_sum(const T* __restrict__ X, T* __restrict__ out,
                           long long rows, long long cols, T scale) {
    __shared__ T partial[SUM_ROWS][SUM_COLS];
    // Grid-stride over tiles of columns; the loop bounds depend on the block only, so every
    // thread of a block reaches the same __syncthreads().
    for (long long col0 = (long long)blockIdx.x * SUM_COLS; col0 < cols;
         col0 += (long long)gridDim.x * SUM_COLS) {
        long long j = col0 + threadIdx.x;
        T sum = T(0);
        if (j < cols)
            for (long long i = threadIdx.y; i < rows; i += SUM_ROWS) sum += X[i * cols + j];
        partial[threadIdx.y][threadIdx.x] = sum;
        __syncthreads();
        for (int half = SUM_ROWS / 2; half > 0; half /= 2) {
            if (threadIdx.y < half)
                partial[threadIdx.y][threadIdx.x] += partial[threadIdx.y + half][threadIdx.x];
            __syncthreads();
        }
        if (threadIdx.y == 0 && j < cols) out[j] = partial[0][threadIdx.x] * scale;
        __syncthreads();  // partial is reused by the next tile of columns
    }
}

// Gradient descent in place: W := W - learning_rate * dW.
template <typename T>
__global__ void sgd_update(T* __restrict__ W, const T* __restrict__ dW, T learning_rate,
                           long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        W[i] -= learning_rate * dW[i];
}

// z = w.x + b with the notes' for-loop, run by ONE GPU thread (launched as 1 block of 1
// thread). It is deliberately not parallel: it shows what a scalar loop costs on a GPU,
// each addition waiting for the previous one, next to cuBLAS's dot on the same data.
template <typename T>
__global__ void dot_loop(const T* __restrict__ w, const T* __restrict__ x, T b,
                         T* __restrict__ z, long long n) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    T sum = T(0);
    for (long long i = 0; i < n; ++i) sum += w[i] * x[i];
    z[0] = sum + b;
}

// C = alpha * A @ B, with A (M, K) and B (K, N) given by element strides and C (M, N)
// C-contiguous. Strides make a transpose free: W.T is W with its two strides swapped.
//
// Why not cuBLAS: CuPy 14 refuses cuBLAS calls while a stream is being captured into a
// CUDA graph (NotImplementedError), so graph mode needs a GEMM of its own. This is the
// textbook shared-memory tiling: each block computes a TILE x TILE tile of C, stepping
// through K one TILE-wide slab of A and of B at a time; each element loaded from global
// memory is used TILE times from shared memory. Out-of-range elements load as zero so the
// edges need no special case. Blocks are (TILE, TILE) threads; the grid strides over tiles
// (y over rows of C, x over columns), and the loop bounds depend only on the block, so all
// threads of a block reach every __syncthreads().
template <typename T, int TILE>
__global__ void gemm_tiled(const T* __restrict__ A, const T* __restrict__ B,
                           T* __restrict__ C, long long M, long long N, long long K,
                           long long a_row, long long a_col, long long b_row,
                           long long b_col, T alpha) {
    __shared__ T As[TILE][TILE];
    __shared__ T Bs[TILE][TILE];
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (long long row0 = (long long)blockIdx.y * TILE; row0 < M;
         row0 += (long long)gridDim.y * TILE) {
        for (long long col0 = (long long)blockIdx.x * TILE; col0 < N;
             col0 += (long long)gridDim.x * TILE) {
            const long long row = row0 + ty, col = col0 + tx;
            T sum = T(0);
            for (long long k0 = 0; k0 < K; k0 += TILE) {
                As[ty][tx] = (row < M && k0 + tx < K) ? A[row * a_row + (k0 + tx) * a_col] : T(0);
                Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * b_row + col * b_col] : T(0);
                __syncthreads();
#pragma unroll
                for (int k = 0; k < TILE; ++k) sum += As[ty][k] * Bs[k][tx];
                __syncthreads();  // the slab is overwritten next iteration
            }
            if (row < M && col < N) C[row * N + col] = alpha * sum;
        }
    }
}

// -- softmax over K classes: one warp per row ---------------------------------------------
//
// Each row of Z (m, K) is one example's K logits. A warp of WARP lanes owns a row: lane j
// reads columns j, j + WARP, ..., so any K works (K larger than a warp or a block only
// means more columns per lane), and the row's max and sums are combined across the lanes
// with shuffles: no shared memory, no __syncthreads. The xor butterfly leaves every lane
// with the same bits (fmax and + are commutative), so all lanes agree on the max and sum.
#define WARP 32

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
    // fmax ignores a NaN, so every lane gets the same max; the NaN itself still reaches
    // the row's sum through exp(NaN - max) and makes the row NaN, as in NumPy.
    for (int offset = WARP / 2; offset > 0; offset /= 2)
        v = fmax(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
    for (int offset = WARP / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// A[r] = softmax(Z[r] + b) for each row r: max, exp, sum, normalise. The max is subtracted
// before exp, so every exponent is <= 0 and no finite logit overflows. With keep_biased,
// Z keeps Z + b (the forward's Z^[L]); otherwise Z is only read. A may be Z itself: each
// lane writes only the columns it has just read. Launched with blocks of whole warps; the
// warps stride over the rows.
template <typename T>
__global__ void bias_softmax(T* Z, const T* __restrict__ b, T* A, long long rows, long long cols,
                             int keep_biased) {
    const int lane = threadIdx.x % WARP;
    const long long warps = (long long)gridDim.x * (blockDim.x / WARP);
    for (long long r = (long long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP; r < rows;
         r += warps) {
        T* z = Z + r * cols;
        T* a = A + r * cols;
        // Every lane starts from column 0 (cols >= 1), a member of the row, so a lane with
        // no column of its own cannot bring a foreign value into the max.
        T top = z[0] + b[0];
        __syncwarp();  // every lane has read z[0] before lane 0 may overwrite it with z[0] + b[0]
        for (long long j = lane; j < cols; j += WARP) {
            T v = z[j] + b[j];
            if (keep_biased) z[j] = v;
            top = fmax(top, v);
        }
        top = warp_max(top);
        T total = T(0);
        for (long long j = lane; j < cols; j += WARP) {
            T e = exp((keep_biased ? z[j] : z[j] + b[j]) - top);
            a[j] = e;
            total += e;
        }
        total = warp_sum(total);
        for (long long j = lane; j < cols; j += WARP) a[j] = a[j] / total;
    }
}

// cost[0] = (1/m) sum_r sum_k y_rk (lse_r - z_rk), lse_r = log sum_k e^z_rk: the categorical
// cross-entropy from the logits, in ONE block of COST_THREADS threads (a fixed order, so the
// same bits every run, as cross_entropy_cost). Each warp takes every (COST_THREADS/WARP)-th
// row; lse is taken with the max shift, so a tiny probability costs no log(0). The row
// losses are added in double, which keeps float32 costs accurate.
template <typename T>
__global__ void softmax_cross_entropy_cost(const T* __restrict__ Z, const T* __restrict__ Y,
                                           T* __restrict__ cost, long long rows, long long cols) {
    __shared__ double partial[COST_THREADS / WARP];
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    double sum = 0.0;
    for (long long r = warp; r < rows; r += COST_THREADS / WARP) {
        const T* z = Z + r * cols;
        const T* y = Y + r * cols;
        T top = z[0];  // as in bias_softmax: a member of the row (cols >= 1)
        for (long long j = lane; j < cols; j += WARP) top = fmax(top, z[j]);
        top = warp_max(top);
        T total = T(0);
        for (long long j = lane; j < cols; j += WARP) total += exp(z[j] - top);
        const T lse = log(warp_sum(total));
        T loss = T(0);
        for (long long j = lane; j < cols; j += WARP) loss += y[j] * (lse - (z[j] - top));
        sum += (double)warp_sum(loss);
    }
    if (lane == 0) partial[warp] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int w = 0; w < COST_THREADS / WARP; ++w) total += partial[w];
        cost[0] = T(total / (double)rows);
    }
}
