// The Fréchet distance between two Gaussians, d = |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr(sqrtm(s1 s2)),
// in float64, and the statistics' file format. Checked in test_frechet.cpp against pytorch-fid's
// formula in scipy (tests/oracle/frechet.py) and against the nuclear norm of the centred samples.
//
// Why not sqrtm(s1 s2) as pytorch-fid does: s1 s2 is not symmetric, scipy takes its square root by
// a complex Schur decomposition, and when the product is singular (fewer samples than features)
// the result carries errors of order sqrt(machine eps) and spurious imaginary parts. Only its
// trace is needed, and eig(XY) = eig(YX) for any square X, Y, so
//   tr sqrtm(s1 s2) = sum_i sqrt(lambda_i(A)),  A = s1^{1/2} s2 s1^{1/2},
// where A is symmetric positive semidefinite, also when s1 is singular. With s1 = V W V^T (LAPACK
// dsyevd, eigenvalues clipped at 0), A = V G^T s2 G V^T with G = V W^{1/2}, so A has the eigenvalues
// of the smaller G^T s2 G (an orthogonal similarity), which is formed directly; the columns of G for
// the zero eigenvalues of s1 are dropped (they would only add zero rows and columns). Its
// eigenvalues (dsyevd again, values only) below a tolerance of the size of the rounding errors in
// forming it (relative to |s1| |s2|) are set to 0, so the rank-deficient case gives exact zeros
// instead of square roots of rounding noise. Eigenvalues clearly below zero or non-finite mean
// the product is numerically singular or an input is not positive semidefinite: as pytorch-fid
// does, eps * I is then added to both covariances and the computation repeated, and the result says
// so; if that still fails, the statistics are rejected. Inputs are symmetrised first.
#include "eval/frechet.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/shape.h"

// LAPACK from OpenBLAS (Fortran ABI: every argument by pointer, then the hidden lengths of the
// character arguments, which gfortran expects as size_t).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t jobz_len,
                        size_t uplo_len);

namespace mmgan::eval {

namespace {

constexpr double kMachEps = std::numeric_limits<double>::epsilon();

std::string describe(const GaussianStats& s) {
  std::ostringstream os;
  os << "'" << s.features << "' statistics of '" << s.source << "' (n = " << s.count << ")";
  return os.str();
}

// Dimension of valid statistics: mu [d], sigma [d, d], all finite.
int64_t checked_dim(const GaussianStats& s, const char* which) {
  MMGAN_CHECK(s.mu.defined() && s.sigma.defined(), "frechet_distance: ", which, " ", describe(s),
              " have no mu or sigma");
  MMGAN_CHECK(s.mu.dim() == 1, "frechet_distance: ", which, " ", describe(s), ": mu must be 1-D, got ", s.mu.str());
  const int64_t d = s.mu.size(0);
  MMGAN_CHECK(d > 0 && s.sigma.shape() == Shape({d, d}), "frechet_distance: ", which, " ", describe(s), ": sigma ",
              s.sigma.str(), " does not match mu ", s.mu.str());
  return d;
}

std::vector<double> finite_values(const Tensor& t, const GaussianStats& s, const char* which, const char* name) {
  std::vector<double> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    MMGAN_CHECK(std::isfinite(v[i]), "frechet_distance: ", which, " ", describe(s), ": ", name,
                " has a non-finite value ", v[i], " at flat index ", i);
  return v;
}

// Eigenvalues (ascending) of the symmetric n x n matrix a (column-major; only its upper triangle is
// read). With vectors, a is overwritten by the orthonormal eigenvectors, one per column.
std::vector<double> syevd(std::vector<double>& a, int n, bool vectors, const char* what) {
  const char jobz = vectors ? 'V' : 'N', uplo = 'U';
  std::vector<double> w(static_cast<size_t>(n));
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
  MMGAN_CHECK(info == 0, "LAPACK dsyevd (workspace query) failed with info = ", info, " on ", what, " [", n, ", ", n,
              "]");
  lwork = int(work_query);
  liwork = iwork_query;
  std::vector<double> work(size_t(std::max(lwork, 1)));
  std::vector<int> iwork(size_t(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  MMGAN_CHECK(info == 0, "LAPACK dsyevd failed with info = ", info,
              info > 0 ? " (no convergence)" : " (illegal argument)", " on ", what, " [", n, ", ", n, "]");
  return w;
}

// S = (S + S^T) / 2 for a square n x n matrix.
void symmetrise(std::vector<double>& s, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < j; ++i)
      s[size_t(j * n + i)] = s[size_t(i * n + j)] = 0.5 * (s[size_t(j * n + i)] + s[size_t(i * n + j)]);
}

struct TraceSqrt {
  double value = 0;
  bool ok = false;            // false: clearly negative or non-finite eigenvalues (see the opening comment)
  double worst = 0, tol = 0;  // the most negative eigenvalue and the tolerance, for the error message
};

// tr sqrtm(s1 s2) for symmetric s1, s2 [d, d] (row- and column-major alike).
TraceSqrt trace_sqrt_product(std::vector<double> s1, const std::vector<double>& s2, int64_t d64) {
  const int d = int(d64);
  TraceSqrt r;
  const std::vector<double> w = syevd(s1, d, true, "the first covariance");  // s1 now holds V
  const double wmax = std::max(w.back(), 0.0);
  // Eigenvalues of s1 within its rounding error (dsyevd: a small multiple of d eps |s1|) are zero.
  const double tol1 = 2.0 * double(d) * kMachEps * wmax;
  r.worst = w.front();
  r.tol = tol1;
  if (!std::isfinite(wmax) || w.front() < -tol1) return r;
  int first = 0;  // w is ascending: columns first..d-1 of V are kept
  while (first < d && w[size_t(first)] <= tol1) ++first;
  const int k = d - first;
  r.ok = true;
  if (k == 0) return r;                        // s1 = 0
  double* g = s1.data() + int64_t(first) * d;  // G = V W^{1/2}: the kept columns, scaled
  for (int j = 0; j < k; ++j) cblas_dscal(d, std::sqrt(w[size_t(first + j)]), g + int64_t(j) * d, 1);
  std::vector<double> h(size_t(d) * size_t(k)), a(size_t(k) * size_t(k));
  cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, d, k, 1.0, s2.data(), d, g, d, 0.0, h.data(), d);  // s2 G
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, d, 1.0, g, d, h.data(), d, 0.0, a.data(), k);
  symmetrise(a, k);
  const std::vector<double> lam = syevd(a, k, false, "s1^(1/2) s2 s1^(1/2)");
  // Forming G^T s2 G rounds each entry by at most about d eps |G|^2 |s2| <= d eps wmax |s2|_F.
  double s2_fro = 0;
  for (double v : s2) s2_fro += v * v;
  const double tol = 2.0 * double(d) * kMachEps * wmax * std::sqrt(s2_fro);
  r.worst = lam.front();
  r.tol = tol;
  double sum = 0;
  for (double l : lam) {
    if (!std::isfinite(l) || l < -tol) {
      r.ok = false;
      return r;
    }
    if (l > tol) sum += std::sqrt(l);
  }
  r.value = sum;
  return r;
}

}  // namespace

FrechetResult frechet_distance(const GaussianStats& a, const GaussianStats& b, double eps) {
  const int64_t d = checked_dim(a, "first"), db = checked_dim(b, "second");
  MMGAN_CHECK(a.features == b.features, "frechet_distance: statistics of different features: ", describe(a), " vs ",
              describe(b));
  MMGAN_CHECK(d == db, "frechet_distance: statistics of different dimensions: ", describe(a), " has d = ", d, ", ",
              describe(b), " has d = ", db);
  // dsyevd's workspace (1 + 6d + 2d^2 doubles) is indexed with 32-bit LAPACK integers.
  MMGAN_CHECK(2 * d * d + 6 * d + 1 <= int64_t(std::numeric_limits<int>::max()), "frechet_distance: d = ", d,
              " is too large for 32-bit LAPACK");
  MMGAN_CHECK(eps >= 0 && std::isfinite(eps), "frechet_distance: eps must be finite and >= 0, got ", eps);
  const std::vector<double> mu1 = finite_values(a.mu, a, "first", "mu"), mu2 = finite_values(b.mu, b, "second", "mu");
  std::vector<double> s1 = finite_values(a.sigma, a, "first", "sigma");
  std::vector<double> s2 = finite_values(b.sigma, b, "second", "sigma");
  double diff2 = 0, tr1 = 0, tr2 = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double t = mu1[size_t(i)] - mu2[size_t(i)];
    diff2 += t * t;
    tr1 += s1[size_t(i * d + i)];
    tr2 += s2[size_t(i * d + i)];
  }
  symmetrise(s1, d);
  symmetrise(s2, d);
  TraceSqrt t = trace_sqrt_product(s1, s2, d);
  bool fallback = false;
  if (!t.ok) {
    const TraceSqrt first = t;
    for (int64_t i = 0; i < d; ++i) {
      s1[size_t(i * d + i)] += eps;
      s2[size_t(i * d + i)] += eps;
    }
    t = trace_sqrt_product(std::move(s1), s2, d);
    MMGAN_CHECK(t.ok, "frechet_distance: the covariances of ", describe(a), " and ", describe(b),
                " are not positive semidefinite: an eigenvalue ", first.worst, " is below -", first.tol, ", and still ",
                t.worst, " (tolerance ", t.tol, ") with eps = ", eps, " added to the diagonals");
    fallback = true;
  }
  return {diff2 + tr1 + tr2 - 2.0 * t.value, fallback};
}

void save_stats(const std::string& path, const GaussianStats& s) {
  MMGAN_CHECK(
      s.mu.defined() && s.sigma.defined() && s.mu.dim() == 1 && s.sigma.shape() == Shape({s.mu.size(0), s.mu.size(0)}),
      "save_stats '", path, "': mu must be [d] and sigma [d, d], got ", s.mu.defined() ? s.mu.str() : "undefined",
      " and ", s.sigma.defined() ? s.sigma.str() : "undefined");
  SafeTensors st;
  st.add("mu", from_vector(s.mu.to_vector(), s.mu.shape(), DType::F64));
  st.add("sigma", from_vector(s.sigma.to_vector(), s.sigma.shape(), DType::F64));
  st.metadata["count"] = std::to_string(s.count);
  st.metadata["features"] = s.features;
  st.metadata["source"] = s.source;
  save_safetensors(path, st);
}

GaussianStats load_stats(const std::string& path) {
  const SafeTensors st = load_safetensors(path);
  for (const char* key : {"mu", "sigma"})
    MMGAN_CHECK(st.contains(key), "statistics file '", path, "' has no tensor '", key, "'");
  GaussianStats s;
  s.mu = st.at("mu").to(DType::F64);
  s.sigma = st.at("sigma").to(DType::F64);
  MMGAN_CHECK(s.mu.dim() == 1 && s.mu.size(0) > 0, "statistics file '", path, "': 'mu' must be [d], got ",
              shape_str(s.mu.shape()));
  MMGAN_CHECK(s.sigma.dim() == 2 && s.sigma.size(0) == s.sigma.size(1), "statistics file '", path,
              "': 'sigma' must be square, got ", shape_str(s.sigma.shape()));
  MMGAN_CHECK(s.sigma.size(0) == s.mu.size(0), "statistics file '", path, "': 'sigma' ", shape_str(s.sigma.shape()),
              " does not match 'mu' ", shape_str(s.mu.shape()));
  auto meta = [&](const char* k) {
    auto it = st.metadata.find(k);
    return it == st.metadata.end() ? std::string() : it->second;
  };
  const std::string count = meta("count");
  if (!count.empty()) {
    size_t used = 0;
    long long c = -1;
    try {
      c = std::stoll(count, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MMGAN_CHECK(used == count.size() && c >= 0, "statistics file '", path, "': metadata count '", count,
                "' is not a non-negative integer");
    s.count = c;
  }
  s.features = meta("features");
  s.source = meta("source");
  return s;
}

}  // namespace mmgan::eval
