#include "ops/cuda/cuda_gemm.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>

#include "ops/cuda/cuda_check.h"

namespace wedlm::cuda {
namespace {

void check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "cuBLASLt error %d in %s\n", int(s), what);
  std::abort();
}

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

// cuBLASLt is opened when the first Gemm is made, not linked: the library is half a gigabyte, and
// loading it at program start cost every wedlm process ~90 ms and 200 MB, GPU or not.
#define WEDLM_LT_FUNCTIONS(X)                                                                   \
  X(cublasLtCreate)                                                                             \
  X(cublasLtDestroy) X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescSetAttribute)              \
      X(cublasLtMatmulDescDestroy) X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy) \
          X(cublasLtMatmulPreferenceCreate) X(cublasLtMatmulPreferenceSetAttribute)             \
              X(cublasLtMatmulPreferenceDestroy) X(cublasLtMatmulAlgoGetHeuristic)              \
                  X(cublasLtMatmul)

struct LtApi {
#define WEDLM_LT_MEMBER(f) decltype(&::f) f = nullptr;
  WEDLM_LT_FUNCTIONS(WEDLM_LT_MEMBER)
#undef WEDLM_LT_MEMBER
};

#define WEDLM_STR2(x) #x
#define WEDLM_STR(x) WEDLM_STR2(x)

LtApi load_lt() {
  const char* name = "libcublasLt.so." WEDLM_STR(CUBLAS_VER_MAJOR);
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr)  // the toolkit this was built with
    h = dlopen((std::string(WEDLM_CUDA_LIB_DIR) + "/" + name).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    std::fprintf(stderr, "cannot load %s (the CUDA backend's GEMMs): %s\n", name, dlerror());
    std::abort();
  }
  LtApi a;
#define WEDLM_LT_LOAD(f)                               \
  a.f = reinterpret_cast<decltype(a.f)>(dlsym(h, #f)); \
  if (a.f == nullptr) {                                \
    std::fprintf(stderr, "%s lacks %s\n", name, #f);   \
    std::abort();                                      \
  }
  WEDLM_LT_FUNCTIONS(WEDLM_LT_LOAD)
#undef WEDLM_LT_LOAD
  return a;
}

const LtApi& lt() {
  static const LtApi api = load_lt();
  return api;
}

}  // namespace

// One GEMM shape's cuBLASLt descriptors and chosen algorithm, made once and reused: the heuristic
// query costs tens of microseconds, and a decode step runs a few hundred GEMMs.
struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

struct Gemm::Impl {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::map<std::tuple<int64_t, int64_t, int64_t, int>, Plan> plans;  // (n, m, k, out type)

  // Column-major, as cuBLAS sees it: C[m, n] = op(A)[m, k] . B[k, n] with A = w (k x m, ld k,
  // transposed), B = x (k x n, ld k), C = y (m x n, ld m): y row-major [n, m].
  const Plan& plan(int64_t n, int64_t m, int64_t k, cudaDataType_t y_type) {
    const auto key = std::make_tuple(n, m, k, int(y_type));
    if (auto it = plans.find(key); it != plans.end()) return it->second;
    Plan p;
    check(lt().cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    check(lt().cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
          "transa");
    check(lt().cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
          "transb");
    check(lt().cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, uint64_t(k), uint64_t(m), k),
          "layout a");
    check(lt().cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, uint64_t(k), uint64_t(n), k),
          "layout b");
    check(lt().cublasLtMatrixLayoutCreate(&p.c, y_type, uint64_t(m), uint64_t(n), m), "layout c");
    cublasLtMatmulPreference_t pref = nullptr;
    check(lt().cublasLtMatmulPreferenceCreate(&pref), "preference");
    check(lt().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &kWorkspaceBytes, sizeof kWorkspaceBytes),
          "workspace preference");
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    check(lt().cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.a, p.b, p.c, p.c, pref, 1, &heur,
                                              &found),
          "heuristic");
    lt().cublasLtMatmulPreferenceDestroy(pref);
    if (found == 0) check(CUBLAS_STATUS_NOT_SUPPORTED, "no cuBLASLt algorithm for this GEMM");
    p.algo = heur.algo;
    return plans.emplace(key, p).first->second;
  }

  void run(const void* x, int64_t n, const void* w, int64_t m, int64_t k, void* y,
           cudaDataType_t y_type, void* stream) {
    if (n == 0 || m == 0) return;
    const Plan& p = plan(n, m, k, y_type);
    const float alpha = 1.0f, beta = 0.0f;
    check(lt().cublasLtMatmul(handle, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                              workspace, kWorkspaceBytes, static_cast<cudaStream_t>(stream)),
          "matmul");
  }

  ~Impl() {
    for (auto& [key, p] : plans) {
      lt().cublasLtMatrixLayoutDestroy(p.c);
      lt().cublasLtMatrixLayoutDestroy(p.b);
      lt().cublasLtMatrixLayoutDestroy(p.a);
      lt().cublasLtMatmulDescDestroy(p.op);
    }
  }
};

Gemm::Gemm() : impl_(std::make_unique<Impl>()) {
  check(lt().cublasLtCreate(&impl_->handle), "cublasLtCreate");
  impl_->workspace = device_malloc(kWorkspaceBytes);
}

Gemm::~Gemm() {
  device_free(impl_->workspace);
  lt().cublasLtDestroy(impl_->handle);
}

void Gemm::bf16_out(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, bf16_t* y,
                    void* stream) {
  impl_->run(x, n, w, m, k, y, CUDA_R_16BF, stream);
}

void Gemm::f32_out(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, float* y,
                   void* stream) {
  impl_->run(x, n, w, m, k, y, CUDA_R_32F, stream);
}

}  // namespace wedlm::cuda
