#include "mldyn/pair_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "detail/simd.hpp"

namespace mldyn {

namespace {
constexpr std::size_t kDegree = 7, kCoef = kDegree + 1;
constexpr std::size_t kMaxIntervals = 4096;
constexpr double kTolerance = 1e-13;
constexpr std::size_t kChecks = 17;  // per interval, t = -1, -7/8, ..., 7/8 and just below 1
constexpr double kPi = 3.14159265358979323846;

/// Monomial coefficients (in t) of the Chebyshev polynomials T_0 .. T_7: cheb[k][j] of t^j.
struct ChebyshevMonomials {
    double c[kCoef][kCoef] = {};
    ChebyshevMonomials() {
        c[0][0] = 1.0;
        c[1][1] = 1.0;
        for (std::size_t k = 1; k + 1 < kCoef; ++k)
            for (std::size_t j = 0; j < kCoef; ++j)
                c[k + 1][j] = (j ? 2.0 * c[k][j - 1] : 0.0) - c[k - 1][j];
    }
};

double horner(const double* p, double t) {
    double v = p[kDegree];
    for (std::size_t k = kDegree; k-- > 0;) v = v * t + p[k];
    return v;
}
/// Monomial coefficients (in t in [-1, 1]) of the polynomial through f at the Chebyshev nodes.
void interpolate(const double* f, double* out) {
    static const ChebyshevMonomials cheb;
    for (std::size_t k = 0; k < kCoef; ++k) {
        double sum = 0.0;
        for (std::size_t j = 0; j < kCoef; ++j)
            sum += f[j] * std::cos(kPi * static_cast<double>(k) * (2.0 * j + 1.0) / (2.0 * kCoef));
        const double c = (k ? 2.0 : 1.0) * sum / static_cast<double>(kCoef);
        for (std::size_t j = 0; j < kCoef; ++j) out[j] += c * cheb.c[k][j];
    }
}
}  // namespace

std::shared_ptr<const PairTable> PairTable::build(const std::vector<Part>& parts, const std::vector<double>& A_sf,
                                                  std::size_t F, std::size_t S) {
    if (parts.empty()) throw std::invalid_argument("pair table: no descriptor");
    if (A_sf.size() != S * F) throw std::invalid_argument("pair table: coefficients do not fit");
    const double r_lo = kMinDistance;
    double r_cut = 0.0;
    std::size_t max_M = 0;
    std::vector<double> cuts;
    for (const Part& part : parts) {
        if (!part.descriptor) throw std::invalid_argument("pair table: null descriptor");
        const std::size_t M = part.descriptor->pair_functions();
        if (M == 0) throw std::invalid_argument("pair table: a descriptor is not a pair sum");
        if (part.offset + S * M > F) throw std::invalid_argument("pair table: coefficients do not fit");
        max_M = std::max(max_M, M);
        r_cut = std::max(r_cut, part.descriptor->cutoff());
        cuts.push_back(part.descriptor->cutoff());  // a shorter part ends there
        for (double k : part.descriptor->pair_kinks()) cuts.push_back(k);
    }
    // (at most kMaxIntervals of the coarsest spacing tried below)
    if (!std::isfinite(r_cut) || !(r_cut > r_lo) || r_cut - r_lo > 0.4 * kMaxIntervals) return nullptr;
    // Grid segments: between the kinks, the parts' cutoffs and the octaves r_lo * 2^k inside (r_lo,
    // r_cut); each segment gets the coarsest uniform spacing that meets the tolerance (fine near r_lo
    // where r^-n is steep, coarse farther out, so that the intervals most neighbours use stay in cache).
    for (double x = 2.0 * r_lo; x < r_cut; x *= 2.0) cuts.push_back(x);
    std::sort(cuts.begin(), cuts.end());
    std::vector<double> bounds{r_lo};
    for (double k : cuts)
        if (k > bounds.back() + 1e-9 && k < r_cut - 1e-9) bounds.push_back(k);
    bounds.push_back(r_cut);

    std::shared_ptr<PairTable> t(new PairTable());
    t->parts_ = parts;
    t->S_ = S;
    t->max_M_ = max_M;
    t->r_cut_ = r_cut;
    t->F_ = F;
    t->A_ = A_sf;
    const std::size_t P = S * S;

    // G, G' and the size of their terms (sum_m |A w_m|, sum_m |A w_m'|) of every pair at distances r.
    struct Sums {
        std::vector<double> G, dG, sG, sdG;  // p * N + b
    };
    auto sums = [&](const std::vector<double>& r) {
        const std::size_t N = r.size();
        Sums out{std::vector<double>(P * N), std::vector<double>(P * N), std::vector<double>(P * N),
                 std::vector<double>(P * N)};
        for (const Part& part : parts) {
            const std::size_t M = part.descriptor->pair_functions();
            const double cut = part.descriptor->cutoff();
            std::vector<double> w(M * N), dw(M * N);
            part.descriptor->pair_weights(r.data(), N, w.data(), dw.data(), N);
            for (std::size_t p = 0; p < P; ++p) {
                const double* A = A_sf.data() + (p / S) * F + part.offset + (p % S) * M;
                for (std::size_t m = 0; m < M; ++m)
                    for (std::size_t b = 0; b < N; ++b) {
                        if (!(r[b] < cut)) continue;
                        out.G[p * N + b] += A[m] * w[m * N + b];
                        out.dG[p * N + b] += A[m] * dw[m * N + b];
                        out.sG[p * N + b] += std::abs(A[m] * w[m * N + b]);
                        out.sdG[p * N + b] += std::abs(A[m] * dw[m * N + b]);
                    }
            }
        }
        return out;
    };
    // Absolute floors of the tolerance (where the terms themselves vanish): 1e-3 of it at the largest terms.
    std::vector<double> floor_G(P, 0.0), floor_dG(P, 0.0);
    {
        std::vector<double> r;
        for (std::size_t b = 0; b < 2000; ++b) r.push_back(r_lo + (r_cut - r_lo) * static_cast<double>(b) / 2000.0);
        const Sums z = sums(r);
        for (std::size_t p = 0; p < P; ++p)
            for (std::size_t b = 0; b < r.size(); ++b) {
                floor_G[p] = std::max(floor_G[p], 1e-3 * kTolerance * z.sG[p * r.size() + b]);
                floor_dG[p] = std::max(floor_dG[p], 1e-3 * kTolerance * z.sdG[p * r.size() + b]);
            }
    }

    double nodes[kCoef];
    for (std::size_t j = 0; j < kCoef; ++j) nodes[j] = std::cos(kPi * (2.0 * j + 1.0) / (2.0 * kCoef));
    const std::size_t n_seg = bounds.size() - 1, per = kCoef + kChecks;
    std::vector<std::vector<double>> seg_coef(n_seg);  // per segment: (p * count + i) * 2 kCoef + k
    std::size_t n = 0;
    for (std::size_t g = 0; g < n_seg; ++g) {
        const double lo = bounds[g], len = bounds[g + 1] - lo;
        bool ok = false;
        for (double h0 = 0.4; h0 >= 0.4 / 256 && !ok; h0 *= 0.5) {
            const std::size_t c = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(len / h0 - 1e-9)));
            if (n + c > kMaxIntervals) return nullptr;
            const double h = len / static_cast<double>(c);
            // Distances: the Chebyshev nodes, then the check points, of every interval.
            std::vector<double> r(c * per);
            for (std::size_t i = 0; i < c; ++i) {
                const double x0 = lo + static_cast<double>(i) * h;
                double* ri = r.data() + i * per;
                for (std::size_t j = 0; j < kCoef; ++j) ri[j] = x0 + 0.5 * h * (nodes[j] + 1.0);
                for (std::size_t j = 0; j < kChecks; ++j)  // [x0, x0 + h): the end belongs to the next interval
                    ri[kCoef + j] = j + 1 < kChecks ? x0 + h * static_cast<double>(j) / (kChecks - 1)
                                                    : std::nextafter(x0 + h, 0.0);
            }
            const Sums z = sums(r);
            const std::size_t N = r.size();
            std::vector<double> coef(P * c * 2 * kCoef, 0.0);
            ok = true;
            for (std::size_t p = 0; p < P && ok; ++p)
                for (std::size_t i = 0; i < c && ok; ++i) {
                    // Per interval, G' then G: each the interpolant at the Chebyshev nodes, as monomials in t.
                    double* out = coef.data() + (p * c + i) * 2 * kCoef;
                    interpolate(z.dG.data() + p * N + i * per, out);
                    interpolate(z.G.data() + p * N + i * per, out + kCoef);
                    const double x0 = lo + static_cast<double>(i) * h;
                    for (std::size_t j = 0; j < kChecks; ++j) {
                        const std::size_t b = p * N + i * per + kCoef + j;
                        const double tt = 2.0 * (r[i * per + kCoef + j] - x0) / h - 1.0;
                        const double edG = std::abs(horner(out, tt) - z.dG[b]);
                        const double eG = std::abs(horner(out + kCoef, tt) - z.G[b]);
                        if (!(eG <= kTolerance * z.sG[b] + floor_G[p]) || !(edG <= kTolerance * z.sdG[b] + floor_dG[p]))
                            ok = false;
                    }
                }
            if (ok) {
                t->seg_start_.push_back(lo);
                t->seg_inv_h_.push_back(1.0 / h);
                t->seg_first_.push_back(n);
                t->seg_count_.push_back(c);
                t->spacing_ = std::max(t->spacing_, h);
                seg_coef[g] = std::move(coef);
                n += c;
            }
        }
        if (!ok) return nullptr;
    }
    t->n_intervals_ = n;
    // G' and G in separate arrays, each interval's 8 coefficients in one 64-byte cache line (the
    // force path reads G' only).
    t->storage_.assign(2 * P * n * kCoef + kCoef, 0.0);
    const std::size_t misalign = reinterpret_cast<std::uintptr_t>(t->storage_.data()) % 64 / sizeof(double);
    t->dG_ = t->storage_.data() + (misalign ? kCoef - misalign : 0);
    t->G_ = t->dG_ + P * n * kCoef;
    for (std::size_t g = 0; g < n_seg; ++g)
        for (std::size_t p = 0; p < P; ++p)
            for (std::size_t i = 0; i < t->seg_count_[g]; ++i) {
                const double* from = seg_coef[g].data() + (p * t->seg_count_[g] + i) * 2 * kCoef;
                const std::size_t to = (p * n + t->seg_first_[g] + i) * kCoef;
                std::copy(from, from + kCoef, t->dG_ + to);
                std::copy(from + kCoef, from + 2 * kCoef, t->G_ + to);
            }
    return t;
}

void PairTable::direct(std::size_t s, std::size_t a, double r, double& G, double& dG, double* work) const {
    G = dG = 0.0;
    for (const Part& part : parts_) {
        if (!(r < part.descriptor->cutoff())) continue;
        const std::size_t M = part.descriptor->pair_functions();
        part.descriptor->pair_weights(&r, 1, work, work + M, 1);
        const double* A = A_.data() + s * F_ + part.offset + a * M;
        for (std::size_t m = 0; m < M; ++m) {
            G += A[m] * work[m];
            dG += A[m] * work[M + m];
        }
    }
}

double PairTable::add(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force, double* work,
                      bool want_loss) const {
    return want_loss ? sum_with_loss(s, a, nb, force, work) : sum_force(s, a, nb, force, work);
}

// Scalar on purpose: per neighbour, one interval's coefficients (one cache line for G', one more
// for G) and one or two Horner chains; SIMD needs a gather per coefficient and measured slower.
// (A template cannot be multiversioned: the two kernels below inline this body.)
template <bool kLoss>
MLDYN_INLINE double PairTable::sum(std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb,
                                   double* force, double* work) const {
    const std::size_t p = s * S_ + a, n_seg = seg_start_.size(), count = nb.count;
    const double *dG_table = dG_ + p * n_intervals_ * kCoef, *G_table = G_ + p * n_intervals_ * kCoef;
    const double *start = seg_start_.data(), *inv_h = seg_inv_h_.data();
    const std::size_t *first = seg_first_.data(), *last = seg_count_.data();
    const double *r = nb.r.data(), *ux = nb.ux.data(), *uy = nb.uy.data(), *uz = nb.uz.data();
    const double r_lo = start[0];
    double loss = 0.0, fx = 0.0, fy = 0.0, fz = 0.0;
    std::size_t n_close = 0;
    for (std::size_t b = 0; b < count; ++b) {
        const double rb = r[b];
        if (rb < r_lo) {  // summed directly below
            ++n_close;
            continue;
        }
        std::size_t g = 0;
        for (std::size_t k = 1; k < n_seg; ++k) g += rb >= start[k];  // no branch to mispredict
        const double x = (rb - start[g]) * inv_h[g];
        const std::size_t i = std::min(static_cast<std::size_t>(x), last[g] - 1);
        const double t = 2.0 * (x - static_cast<double>(i)) - 1.0;
        const std::size_t at = (first[g] + i) * kCoef;
        const double* c = dG_table + at;
        double dG = c[kDegree];
        for (std::size_t k = kDegree; k-- > 0;) dG = dG * t + c[k];
        if (kLoss) {
            const double* e = G_table + at;
            double G = e[kDegree];
            for (std::size_t k = kDegree; k-- > 0;) G = G * t + e[k];
            loss += G;
        }
        fx += dG * ux[b];
        fy += dG * uy[b];
        fz += dG * uz[b];
    }
    for (std::size_t b = 0; b < count && n_close; ++b)
        if (r[b] < r_lo) {
            double G, dG;
            direct(s, a, r[b], G, dG, work);
            if (kLoss) loss += G;
            fx += dG * ux[b];
            fy += dG * uy[b];
            fz += dG * uz[b];
            --n_close;
        }
    force[0] += fx;
    force[1] += fy;
    force[2] += fz;
    return loss;
}

MLDYN_MULTIVERSION __attribute__((optimize("no-tree-vectorize"))) double PairTable::sum_force(
    std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force, double* work) const {
    return sum<false>(s, a, nb, force, work);
}

MLDYN_MULTIVERSION __attribute__((optimize("no-tree-vectorize"))) double PairTable::sum_with_loss(
    std::size_t s, std::size_t a, const AgentEnvironment::Neighbours& nb, double* force, double* work) const {
    return sum<true>(s, a, nb, force, work);
}

}  // namespace mldyn
