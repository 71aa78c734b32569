// matmul_common: what every matmul version shares (shaders/matmul.wgsl: v1, v2, v4;
// shaders/matmul_subgroup.wgsl: v3): the shape, the bindings, and the fused epilogue that
// stores each finished element of C. It has no entry point: the host appends it to each
// version's source (src/gpu/kernels.ts), after the version's own directives.
//
// Bindings (group 0), all row-major f32:
//   0 a    [M,K] or [K,M]   read
//   1 b    [K,N] or [N,K]   read
//   2 c    [M,N]            read_write (read only by EPILOGUE 3 and 4)
//   3 aux  [M,N]            read_write: h for EPILOGUE 2, the 0/1 mask for EPILOGUE 3 and 4; any 4
//                           bytes otherwise (written only by EPILOGUE 2, only where h is not finite)
//   4 bias [N]              read with HAS_BIAS (a layer's biases); any 4 bytes otherwise
//   5 k_count [1] u32       read with K_FROM_COUNT: how many k to sum (min(k_count[0], K)); any 4
//                           bytes otherwise
//   6 w    [M,N]            read_write with EPILOGUE 4 (the layer's weights); any 4 bytes otherwise
//   7 hyper uniform { lr: f32, momentum: f32 }, read with EPILOGUE 4; any 8 bytes otherwise
// EPILOGUE (with HAS_BIAS, 0 and 1 take acc + bias[col] for acc: the bias is added once, after
//   the sum, before the ReLU; HAS_BIAS is only set with EPILOGUE 0 or 1):
//   0 c = acc; 1 c = relu(acc) (ReLU on a hidden layer's output: 0 where acc ≤ 0, NaN
//   passes on);
//   2 c = acc·[aux > 0] (ReLU derivative: an inactive neuron gets no gradient), and aux = 0 where
//     it is NaN or ±Inf: an overflowed activation belongs to a sample whose gradient is 0
//     (softmax_grad), and ∞·0 = NaN in the weight gradient that reads aux next;
//   3 c = (c + acc)·aux (velocity += weight gradient, live weights only);
//   4 as 3, then the seed's momentum step where aux ≠ 0: w += lr·c, c *= momentum (update.wgsl
//     after EPILOGUE 3, in the same pass: no second pass over the layer, no dispatch of its own).
// K = 0 is a valid shape (a layer with no inputs): C = the epilogue of 0. M = 0 or N = 0 has
// nothing to compute (0 workgroups).
// K_FROM_COUNT: the sum runs over k < min(k_count[0], K) only, and op(A), op(B) are never read
//   at a larger k: the weight gradient over the packed backpropagated rows of a batch, whose
//   count the GPU wrote, in one direct dispatch (an indirect one costs Dawn a validation
//   dispatch).
// M, N, K are override constants: one pipeline per layer shape, so strides are compile-time.
// Storing a register block: v2, v3 and v4 keep a block of C in a private array that every k step
// indexes with constants, so the compiler keeps it in registers. Their store_c calls run in one
// loop over a copy of that array (`let block = acc;`), indexed by the loop counter: written as
// nested loops over the array itself, the compiler unrolls them into one store_c per element, and
// llvmpipe then spent seconds per pipeline on each layer shape's first dispatch (13 s for the
// 64-element block with EPILOGUE 4, 0.14 s as one loop; BENCHMARKS.md, "Compiling the matmuls").
// JS references: matmul / matmulTransB / matmulTransA, addBias, relu, reluGradMask, accumulateVelocity
// and maskedMomentumUpdate in src/cpu/ops.ts.

override M: u32;
override N: u32;
override K: u32;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_BIAS: bool = false;
override K_FROM_COUNT: bool = false;

struct Hyper {
  lr: f32,
  momentum: f32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> aux: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> k_count: array<u32>;
@group(0) @binding(6) var<storage, read_write> w: array<f32>;
@group(0) @binding(7) var<uniform> hyper: Hyper;

// How many k the sum runs over: K, or with K_FROM_COUNT the count in binding 5 (at most K). A
// value read from a read-only binding is uniform, so v2 may loop to it around its barriers.
fn k_end() -> u32 {
  if (K_FROM_COUNT) { return min(k_count[0], K); }
  return K;
}

// The forward epilogues' sum: acc, plus the column's bias with HAS_BIAS.
fn with_bias(acc: f32, col: u32) -> f32 {
  if (HAS_BIAS) { return acc + bias[col]; }
  return acc;
}

fn store_c(row: u32, col: u32, acc: f32) {
  if (row >= M || col >= N) { return; }
  let i = row * N + col;
  switch (EPILOGUE) {
    case 1u: { c[i] = relu(with_bias(acc, col)); }
    case 2u: {
      let h = aux[i];
      c[i] = select(0.0, acc, h > 0.0);
      if (!is_finite(h)) { aux[i] = 0.0; }
    }
    case 3u: { c[i] = select(0.0, c[i] + acc, aux[i] != 0.0); }
    case 4u: {
      if (aux[i] != 0.0) {
        let v = c[i] + acc;
        w[i] += hyper.lr * v;
        c[i] = v * hyper.momentum;
      } else {
        c[i] = 0.0;
      }
    }
    default: { c[i] = with_bias(acc, col); }
  }
}
