#include "mldyn/angular_descriptor.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "detail/simd.hpp"

namespace mldyn {

namespace {

/// Index of Y_l^mu among the (L + 1)^2 harmonics: l^2 + l + mu.
constexpr std::size_t harmonic(int l, int mu) { return static_cast<std::size_t>(l * l + l + mu); }

/// One species' neighbours inside the descriptor's cutoff, and everything per neighbour b:
/// weights w[m * stride + b], dw/dr and w/r (gradients only), harmonics Y[k * stride + b] and, only where the
/// invariants' gradients are wanted (the MD force needs none: contract), their gradients with respect to the
/// unit vector, dY[(3 k + c) * stride + b].
struct SpeciesTerms {
    std::size_t count = 0, stride = 0;
    AgentEnvironment::Neighbours near;               // filtered copy when the environment reaches farther
    const double *ux = nullptr, *uy = nullptr, *uz = nullptr, *inv_r = nullptr;  // the neighbours in use
    std::vector<double> w, dw, wr, Y, dY;
    void reserve(std::size_t n, std::size_t M, std::size_t K, bool gradients) {
        if (n > stride || w.empty()) {
            stride = std::max<std::size_t>(32, simd::padded(2 * n));
            w.resize(M * stride);
            dw.resize(M * stride);
            wr.resize(M * stride);
            Y.resize(K * stride);
            if (!dY.empty()) dY.resize(3 * K * stride);
        }
        if (gradients && dY.size() < 3 * K * stride) dY.resize(3 * K * stride);
    }
};

struct AngularScratch final : DescriptorScratch {
    AngularScratch(std::size_t n_species, std::size_t C, std::size_t K)
        : species(n_species), dc(3 * C * K), cT(C * K + simd::kLanes), S(C * C + simd::kLanes),
          G(C * K + simd::kLanes), P(3 * C * C),
          rows(C <= 2 * simd::kLanes ? AngularDescriptor::kMaxL * 3 * C * 2 * simd::kLanes : 0) {}
    std::vector<SpeciesTerms> species;
    std::vector<double> dc;  // d c / d q_agent, k-major: dc[(k * 3 + coordinate) * C + alpha]
    // cT, S and G end in kLanes spare entries: the small-C kernels load and store whole vectors.
    std::vector<double> cT;  // the moments k-major: cT[k * C + alpha]
    std::vector<double> S;   // one degree's coefficients as a symmetric C x C matrix
    std::vector<double> G;   // dH / dc, k-major: G[k * C + alpha]
    std::vector<double> P;   // one degree's sum_k dc[k, alpha] c[k, beta]: P[(coordinate * C + alpha) * C + beta]
    // The fixed-channel kernels' rows of every degree (here, not on the stack: GCC gives each inlined
    // instantiation its own stack slots; with one per channel count up to 16 the frames were 50-170 kB,
    // whose pages the stack-clash probes touch).
    std::vector<double> rows;
};

/// The solid-harmonic recursion's coefficients up to kMaxL: diag[l] for the diagonal step from l,
/// up[l][m] and back[l][m] for the upward step at fixed m. Computed once (they cost ~50 square
/// roots and divisions, as much as the harmonics of a few neighbours).
struct RecursionCoefficients {
    static constexpr int kL = AngularDescriptor::kMaxL;
    double diag[kL], up[kL][kL], back[kL][kL];
};

const RecursionCoefficients& recursion_coefficients() {
    static const RecursionCoefficients table = [] {
        RecursionCoefficients t{};
        for (int l = 0; l < RecursionCoefficients::kL; ++l) {
            t.diag[l] = std::sqrt((l == 0 ? 2.0 : 1.0) * (2.0 * l + 1.0) / (2.0 * l + 2.0));
            for (int m = 0; m <= l; ++m) {
                const double norm = std::sqrt((l + m + 1.0) * (l - m + 1.0));
                t.up[l][m] = (2.0 * l + 1.0) / norm;
                t.back[l][m] = std::sqrt((l + m) * (l - m + 0.0)) / norm;
            }
        }
        return t;
    }();
    return table;
}

/// Real spherical harmonics Y_l^mu (Racah's normalisation) of the unit vectors (x, y, z)[b] for
/// l <= L, and with kGradients their gradients with respect to (x, y, z), by the recursion for regular
/// solid harmonics (Helgaker, Jørgensen, Olsen, eqs. 6.4.70-73) with r^2 = 1: an extension off the unit
/// sphere whose tangential gradient is the harmonic's (only that is used).
/// The recursion runs as chains: the diagonal C_mm, S_mm from C_{m-1,m-1}, S_{m-1,m-1}, and from each
/// the chain of fixed mu = +-m upward in l, a three-term recurrence, its last two terms in registers.
template <bool kGradients>
MLDYN_INLINE void harmonics_body(int L, const double* x, const double* y, const double* z, std::size_t n,
                                 std::size_t stride, double* Y, double* dY) {
    // Four neighbours at a time: a loop over the neighbours per harmonic and coordinate costs more
    // in loop overhead than it computes.
    using simd::v4;
    const v4 zero = simd::broadcast4(0.0);
    const auto& [diag, up, back] = recursion_coefficients();
    struct Term {
        v4 v, gx, gy, gz;
    };
    for (std::size_t b = 0; b < n; b += 4) {
        const v4 X = simd::load4(x + b), Yv = simd::load4(y + b), Z = simd::load4(z + b);
        const auto store = [&](std::size_t k, const Term& t) MLDYN_LAMBDA_INLINE {
            simd::store4(Y + k * stride + b, t.v);
            if constexpr (kGradients) {
                simd::store4(dY + 3 * k * stride + b, t.gx);
                simd::store4(dY + (3 * k + 1) * stride + b, t.gy);
                simd::store4(dY + (3 * k + 2) * stride + b, t.gz);
            }
        };
        Term C{simd::broadcast4(1.0), zero, zero, zero}, S{zero, zero, zero, zero};  // C_00 = 1, S_00 = 0
        for (int m = 0; m <= L; ++m) {
            if (m > 0) {  // C_mm = f (x C - y S), S_mm = f (y C + x S) from degree m - 1
                const double f = diag[m - 1];
                Term Cn, Sn;
                Cn.v = f * (X * C.v - Yv * S.v);
                Sn.v = f * (Yv * C.v + X * S.v);
                if constexpr (kGradients) {
                    Cn.gx = f * (X * C.gx - Yv * S.gx + C.v);
                    Cn.gy = f * (X * C.gy - Yv * S.gy - S.v);
                    Cn.gz = f * (X * C.gz - Yv * S.gz);
                    Sn.gx = f * (Yv * C.gx + X * S.gx + S.v);
                    Sn.gy = f * (Yv * C.gy + X * S.gy + C.v);
                    Sn.gz = f * (Yv * C.gz + X * S.gz);
                }
                C = Cn;
                S = Sn;
            }
            // Z_{l+1,mu} = a z Z_{l,mu} - back Z_{l-1,mu} (back = 0 at l = m), the chains of mu = m and
            // mu = -m side by side (same coefficients, two independent dependency chains).
            Term lo[2] = {{zero, zero, zero, zero}, {zero, zero, zero, zero}}, cur[2] = {C, S};
            const int chains = m > 0 ? 2 : 1;
            for (int c = 0; c < chains; ++c) store(harmonic(m, c ? -m : m), cur[c]);
            for (int l = m; l < L; ++l) {
                const v4 aZ = up[l][m] * Z;
                const double bk = back[l][m];
                for (int c = 0; c < 2; ++c) {  // (the second chain of m = 0 is computed and not stored)
                    Term next;
                    next.v = aZ * cur[c].v - bk * lo[c].v;
                    if constexpr (kGradients) {
                        next.gx = aZ * cur[c].gx - bk * lo[c].gx;
                        next.gy = aZ * cur[c].gy - bk * lo[c].gy;
                        next.gz = aZ * cur[c].gz + up[l][m] * cur[c].v - bk * lo[c].gz;
                    }
                    lo[c] = cur[c];
                    cur[c] = next;
                }
                for (int c = 0; c < chains; ++c) store(harmonic(l + 1, c ? -m : m), cur[c]);
            }
        }
    }
}

MLDYN_MULTIVERSION void harmonics(int L, const double* x, const double* y, const double* z, std::size_t n,
                                  std::size_t stride, double* Y, double* dY) {
    harmonics_body<true>(L, x, y, z, n, stride, Y, dY);
}

/// The harmonics alone (forces need no gradients of them: contract differentiates the recursion backwards).
MLDYN_MULTIVERSION void harmonic_values(int L, const double* x, const double* y, const double* z, std::size_t n,
                                        std::size_t stride, double* Y) {
    harmonics_body<false>(L, x, y, z, n, stride, Y, nullptr);
}

/// Reverse-mode derivative of the harmonic recursion for one block of neighbours: given the harmonics
/// v[k] (as harmonics_body computes them) and the adjoints adj[k] = dE/dY_k (k >= 1), adds
/// dE/d(x, y, z) = sum_k adj[k] dY_k/d(x, y, z) to (gx, gy, gz); adj is overwritten. The chains of
/// harmonics_body backwards, from the highest m: each chain's adjoints run down in l in registers
/// (a backward three-term recurrence), then its first term's adjoint goes through the diagonal step
/// into the first terms of the chains of m - 1.
template <class V>
MLDYN_INLINE void harmonics_adjoint(int L, V X, V Yv, V Z, const V* v, V* adj, V& gx, V& gy, V& gz) {
    const auto& [diag, up, back] = recursion_coefficients();
    const V zero = X - X;
    V gz2 = zero;  // the second chain's share of gz: two dependency chains, not one
    for (int m = L; m >= 0; --m) {
        // The chains of mu = m and -m side by side (for m = 0 the second has zero adjoints):
        // hi = adjoint of Z_{l+1} (whole), mid = of Z_l (its seed and the step l + 1's share).
        const bool two = m > 0;
        const auto seed = [&](int l, int c) MLDYN_LAMBDA_INLINE {
            return c == 0 ? adj[harmonic(l, m)] : two ? adj[harmonic(l, -m)] : zero;
        };
        V hi[2] = {seed(L, 0), seed(L, 1)};
        V mid[2] = {L > m ? seed(L - 1, 0) : zero, L > m ? seed(L - 1, 1) : zero};
        for (int l = L - 1; l >= m; --l) {
            const double a = up[l][m], bk = back[l][m];
            const V aZ = a * Z;
            gz += (a * hi[0]) * v[harmonic(l, m)];
            gz2 += (a * hi[1]) * v[harmonic(l, two ? -m : m)];
            for (int c = 0; c < 2; ++c) {
                mid[c] += aZ * hi[c];
                const V lo = l > m ? seed(l - 1, c) - bk * hi[c] : zero;
                hi[c] = mid[c];
                mid[c] = lo;
            }
        }
        const V first[2] = {hi[0], hi[1]};  // adjoints of C_mm and S_mm
        if (m == 0) break;
        // C_mm = f (x C - y S), S_mm = f (y C + x S) with C, S of degree m - 1
        const double f = diag[m - 1];
        const V ac = f * first[0], as = f * first[1];
        const V C = v[harmonic(m - 1, m - 1)];
        adj[harmonic(m - 1, m - 1)] += ac * X + as * Yv;
        if (m > 1) {
            const V S = v[harmonic(m - 1, -(m - 1))];
            gx += ac * C + as * S;
            gy += as * C - ac * S;
            adj[harmonic(m - 1, -(m - 1))] += as * X - ac * Yv;
        } else {
            gx += ac * C;
            gy += as * C;
        }
    }
    gz += gz2;
}

/// Calls body(std::integral_constant<size_t, C>) for C = First..Last and returns true; false otherwise.
template <std::size_t First, std::size_t Last, class Body> MLDYN_INLINE bool with_channels_in(std::size_t C, Body&& body) {
    if constexpr (First > Last) {
        return false;
    } else {
        if (C == First) {
            body(std::integral_constant<std::size_t, First>{});
            return true;
        }
        return with_channels_in<First + 1, Last>(C, body);
    }
}

/// More than kLanes and at most 2 kLanes channels (e.g. 2 species x 5 radial functions = 10), known only at
/// run time (one instantiation: every count known at compile time took the file's build from 26 s to 2 min).
struct WideChannels {
    std::size_t value;
};
/// A kernel's channel count: std::integral_constant<size_t, C> (C <= kLanes, known at compile time: a row
/// over the channels is one vector, in registers) or WideChannels (a row is two vectors). max bounds arrays.
template <class CC> struct ChannelTraits {
    static constexpr std::size_t vectors = 1, max = CC::value;
};
template <> struct ChannelTraits<WideChannels> {
    static constexpr std::size_t vectors = 2, max = 2 * simd::kLanes;
};
/// Calls body(std::integral_constant<size_t, C>) up to kLanes channels, body(WideChannels{C}) up to 2 kLanes,
/// and returns true; false above (a general loop is needed).
template <class Body> MLDYN_INLINE bool with_fixed_channels(std::size_t C, Body&& body) {
    if (with_channels_in<1, simd::kLanes>(C, body)) return true;
    if (C > 2 * simd::kLanes) return false;
    body(WideChannels{C});
    return true;
}

/// Index of the pair alpha <= beta among C channels (row-major upper triangle).
inline std::size_t pair_index(std::size_t alpha, std::size_t beta, std::size_t C) {
    return alpha * C - alpha * (alpha - 1) / 2 + (beta - alpha);
}

}  // namespace

AngularDescriptor::AngularDescriptor(RadialBasis basis, int l_max, int n_species)
    : basis_(std::move(basis)), l_max_(l_max), n_species_(static_cast<std::size_t>(n_species)) {
    if (n_species < 1) throw std::invalid_argument("angular descriptor: n_species must be at least 1");
    if (l_max < 1 || l_max > kMaxL)
        throw std::invalid_argument("angular descriptor: l_max must be between 1 and " + std::to_string(kMaxL) +
                                    ", got " + std::to_string(l_max));
}

std::size_t AngularDescriptor::size() const {
    const std::size_t C = channels();
    return static_cast<std::size_t>(l_max_) * C * (C + 1) / 2;
}

std::unique_ptr<DescriptorScratch> AngularDescriptor::make_scratch(std::size_t n_species) const {
    const std::size_t K = static_cast<std::size_t>((l_max_ + 1) * (l_max_ + 1));
    return std::make_unique<AngularScratch>(n_species, n_species * basis_.size(), K);
}

MLDYN_MULTIVERSION void AngularDescriptor::moments(const AgentEnvironment& env, DescriptorScratch& base,
                                                   bool keep_gradients) const {
    auto& s = static_cast<AngularScratch&>(base);
    const std::size_t M = basis_.size(), C = channels(), K = static_cast<std::size_t>((l_max_ + 1) * (l_max_ + 1));
    const double rc = basis_.r_cut();
    // Every entry with k >= 1 of a species with neighbours is written below; zero the rest (k = 0, and
    // the species without neighbours) rather than the whole gradient array (7 kB at l_max 5, 2 species).
    std::fill(s.cT.begin(), s.cT.begin() + static_cast<long>(C), 0.0);
    if (keep_gradients) std::fill(s.dc.begin(), s.dc.begin() + static_cast<long>(3 * C), 0.0);
    for (std::size_t a = 0; a < n_species_; ++a) {
        SpeciesTerms& t = s.species[a];
        // The neighbours inside this descriptor's cutoff (the environment may reach farther).
        const AgentEnvironment::Neighbours& nb = env.within(a, rc, t.near);
        if (nb.count == 0)
            for (std::size_t k = 1; k < K; ++k) {
                std::fill_n(s.cT.data() + k * C + a * M, M, 0.0);
                if (keep_gradients)
                    for (std::size_t x = 0; x < 3; ++x) std::fill_n(s.dc.data() + (k * 3 + x) * C + a * M, M, 0.0);
            }
        t.reserve(nb.count, M, K, keep_gradients);
        t.ux = nb.ux.data();
        t.uy = nb.uy.data();
        t.uz = nb.uz.data();
        t.inv_r = nb.inv_r.data();
        const std::size_t n = t.count = nb.count;
        if (!n) continue;
        // Whole blocks of kLanes neighbours (the environment pads its arrays with r = 1, u = 0): the
        // weights of the padding are set to zero, so it adds nothing, and no loop has a remainder.
        const std::size_t st = t.stride, np = simd::padded(n);
        basis_.evaluate_batch(nb.r.data(), nb.inv_r.data(), n, t.w.data(), t.dw.data(), st, true);
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t b = n; b < np; ++b) t.w[m * st + b] = t.dw[m * st + b] = 0.0;
        if (keep_gradients)
            harmonics(l_max_, t.ux, t.uy, t.uz, np, st, t.Y.data(), t.dY.data());
        else
            harmonic_values(l_max_, t.ux, t.uy, t.uz, np, st, t.Y.data());
        // c[a m, k] = sum_b w_m(r_b) Y_k(u_b): four harmonics per pass over the neighbours, with up to
        // 4 radial functions (known at compile time) in the same pass, so that each loaded Y and w
        // feeds several multiply-adds (one radial function per pass is bound by the loads).
        const auto accumulate = [&](auto fixed_m, std::size_t m0) MLDYN_LAMBDA_INLINE {
            constexpr std::size_t Mc = decltype(fixed_m)::value;
            using simd::v4;
            double* c = s.cT.data() + a * M + m0;  // c[k * C + m]
            const double* w = t.w.data() + m0 * st;
            std::size_t k = 1;
            for (; k + 4 <= K; k += 4) {
                const double* Y = t.Y.data() + k * st;
                v4 acc[Mc][4];
                for (std::size_t m = 0; m < Mc; ++m) acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = simd::broadcast4(0.0);
                for (std::size_t b = 0; b < n; b += 4) {
                    const v4 y0 = simd::load4(Y + b), y1 = simd::load4(Y + st + b), y2 = simd::load4(Y + 2 * st + b),
                             y3 = simd::load4(Y + 3 * st + b);
                    for (std::size_t m = 0; m < Mc; ++m) {
                        const v4 wb = simd::load4(w + m * st + b);
                        acc[m][0] += wb * y0;
                        acc[m][1] += wb * y1;
                        acc[m][2] += wb * y2;
                        acc[m][3] += wb * y3;
                    }
                }
                for (std::size_t m = 0; m < Mc; ++m) {
                    const v4 sum = simd::sums(acc[m][0], acc[m][1], acc[m][2], acc[m][3]);
                    for (std::size_t j = 0; j < 4; ++j) c[(k + j) * C + m] = sum[j];
                }
            }
            for (; k < K; ++k) {
                const double* Y = t.Y.data() + k * st;
                v4 acc[Mc];
                for (std::size_t m = 0; m < Mc; ++m) acc[m] = simd::broadcast4(0.0);
                for (std::size_t b = 0; b < n; b += 4) {
                    const v4 y = simd::load4(Y + b);
                    for (std::size_t m = 0; m < Mc; ++m) acc[m] += simd::load4(w + m * st + b) * y;
                }
                for (std::size_t m = 0; m < Mc; ++m) c[k * C + m] = simd::sum(acc[m]);
            }
        };
        for (std::size_t m0 = 0; m0 < M; m0 += 4) {  // up to four radial functions per pass
            switch (std::min<std::size_t>(M - m0, 4)) {
                case 1: accumulate(std::integral_constant<std::size_t, 1>{}, m0); break;
                case 2: accumulate(std::integral_constant<std::size_t, 2>{}, m0); break;
                case 3: accumulate(std::integral_constant<std::size_t, 3>{}, m0); break;
                default: accumulate(std::integral_constant<std::size_t, 4>{}, m0);
            }
        }
        if (!keep_gradients) continue;
        // d c[a m, k] / dq_agent = -sum_j [w'_m Y_k u + (w_m / r) (dY_k - (dY_k . u) u)]_j. Per harmonic
        // and block of neighbours the radial (Y u) and tangential vectors are formed once, then every
        // radial function of a chunk of up to 6 (their sums kept in registers) adds its share.
        for (std::size_t m = 0; m < M; ++m)  // w / r once, not (dY - (dY . u) u) / r once per harmonic
#pragma omp simd
            for (std::size_t b = 0; b < np; ++b) t.wr[m * st + b] = t.w[m * st + b] * t.inv_r[b];
        auto chunk = [&](auto fixed_m, std::size_t m0) MLDYN_LAMBDA_INLINE {
            constexpr std::size_t Mc = decltype(fixed_m)::value;
            // Blocks of four neighbours (half a vector): the padding to kLanes and the reduction of
            // each sum at the end (per k, radial function and coordinate) cost less than in 8 lanes.
            [&](auto zero) MLDYN_LAMBDA_INLINE {
                using V = decltype(zero);
                const auto load = [](const double* p) MLDYN_LAMBDA_INLINE { return simd::load4(p); };
                for (std::size_t k = 1; k < K; ++k) {
                    const double *Y = t.Y.data() + k * st, *gx = t.dY.data() + 3 * k * st, *gy = gx + st,
                                 *gz = gy + st;
                    V sx[Mc], sy[Mc], sz[Mc];
                    for (std::size_t m = 0; m < Mc; ++m) sx[m] = sy[m] = sz[m] = zero;
                    for (std::size_t b = 0; b < n; b += 4) {
                        const V ux = load(t.ux + b), uy = load(t.uy + b), uz = load(t.uz + b);
                        const V Gx = load(gx + b), Gy = load(gy + b), Gz = load(gz + b);
                        const V y = load(Y + b);
                        const V along = Gx * ux + Gy * uy + Gz * uz;
                        const V rx = y * ux, ry = y * uy, rz = y * uz;
                        const V tx = Gx - along * ux, ty = Gy - along * uy, tz = Gz - along * uz;
                        for (std::size_t m = 0; m < Mc; ++m) {
                            const V dw = load(t.dw.data() + (m0 + m) * st + b), w = load(t.wr.data() + (m0 + m) * st + b);
                            sx[m] += dw * rx;  // two multiply-adds each (a + (b + c) would be three)
                            sx[m] += w * tx;
                            sy[m] += dw * ry;
                            sy[m] += w * ty;
                            sz[m] += dw * rz;
                            sz[m] += w * tz;
                        }
                    }
                    double* dk = s.dc.data() + k * 3 * C + a * M + m0;
                    std::size_t m = 0;
                    for (; m + 4 <= Mc; m += 4) {  // four sums reduced together: fewer shuffles than four
                        const simd::v4 minus = simd::broadcast4(-1.0);  // reductions one by one
                        simd::store4(dk + m, minus * simd::sums(sx[m], sx[m + 1], sx[m + 2], sx[m + 3]));
                        simd::store4(dk + C + m, minus * simd::sums(sy[m], sy[m + 1], sy[m + 2], sy[m + 3]));
                        simd::store4(dk + 2 * C + m, minus * simd::sums(sz[m], sz[m + 1], sz[m + 2], sz[m + 3]));
                    }
                    for (; m < Mc; ++m) {
                        dk[m] = -simd::sum(sx[m]);
                        dk[C + m] = -simd::sum(sy[m]);
                        dk[2 * C + m] = -simd::sum(sz[m]);
                    }
                }
            }(simd::v4{});
        };
        for (std::size_t m0 = 0; m0 < M; m0 += 6) {
            switch (std::min<std::size_t>(M - m0, 6)) {
                case 1: chunk(std::integral_constant<std::size_t, 1>{}, m0); break;
                case 2: chunk(std::integral_constant<std::size_t, 2>{}, m0); break;
                case 3: chunk(std::integral_constant<std::size_t, 3>{}, m0); break;
                case 4: chunk(std::integral_constant<std::size_t, 4>{}, m0); break;
                case 5: chunk(std::integral_constant<std::size_t, 5>{}, m0); break;
                default: chunk(std::integral_constant<std::size_t, 6>{}, m0);
            }
        }
    }
}

MLDYN_MULTIVERSION void AngularDescriptor::power_spectrum(DescriptorScratch& base, double* phi) const {
    auto& s = static_cast<AngularScratch&>(base);
    const std::size_t C = channels();
    const std::size_t pairs = C * (C + 1) / 2;
    // phi[l, alpha <= beta] = sum_k cT[k, alpha] cT[k, beta]. Up to 2 kLanes channels: per degree the
    // C x C Gram matrix, row alpha one or two vectors over beta kept in registers over k (lanes past C
    // unused).
    const bool done = with_fixed_channels(C, [&](auto fixed_c) MLDYN_LAMBDA_INLINE {
        using Traits = ChannelTraits<decltype(fixed_c)>;
        constexpr std::size_t NV = Traits::vectors, Cmax = Traits::max;
        const std::size_t Cc = fixed_c.value;
        simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
            using V = decltype(zero);
            // All degrees' rows stored, then packed into phi row by row.
            constexpr std::size_t W = NV * simd::kLanes;
            double* rows = s.rows.data();  // rows[((l - 1) * Cc + alpha) * W + beta]
            for (int l = 1; l <= l_max_; ++l) {
                V gram[Cmax][NV];
                for (std::size_t al = 0; al < Cc; ++al)
                    for (std::size_t j = 0; j < NV; ++j) gram[al][j] = zero;
                for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
                    const double* ck = s.cT.data() + k * Cc;
                    V row[NV];
                    for (std::size_t j = 0; j < NV; ++j) row[j] = simd::load_as<V>(ck + j * simd::kLanes);
                    for (std::size_t al = 0; al < Cc; ++al)
                        for (std::size_t j = 0; j < NV; ++j) gram[al][j] += ck[al] * row[j];
                }
                for (std::size_t al = 0; al < Cc; ++al)
                    for (std::size_t j = 0; j < NV; ++j)
                        simd::store(rows + ((l - 1) * Cc + al) * W + j * simd::kLanes, gram[al][j]);
            }
            for (int l = 1; l <= l_max_; ++l) {
                double* out = phi + static_cast<std::size_t>(l - 1) * pairs;
                for (std::size_t al = 0; al < Cc; ++al)
#pragma GCC unroll 8  // a short copy: GCC would otherwise call rep movs, whose start-up costs more
                    for (std::size_t be = al; be < Cc; ++be) *out++ = rows[((l - 1) * Cc + al) * W + be];
            }
        });
    });
    if (done) return;
    // More channels: per k and alpha one contiguous run of beta.
    std::fill(phi, phi + static_cast<std::size_t>(l_max_) * pairs, 0.0);
    for (int l = 1; l <= l_max_; ++l) {
        double* out = phi + static_cast<std::size_t>(l - 1) * pairs;
        for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
            const double* ck = s.cT.data() + k * C;
            for (std::size_t al = 0; al < C; ++al) {
                const double x = ck[al];
                double* row = out + pair_index(al, al, C);
#pragma omp simd
                for (std::size_t j = 0; j < C - al; ++j) row[j] += x * ck[al + j];
            }
        }
    }
}

void AngularDescriptor::features(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const {
    moments(env, scratch, false);
    power_spectrum(scratch, phi);
}

void AngularDescriptor::prepare_force(const AgentEnvironment& env, DescriptorScratch& scratch, double*) const {
    moments(env, scratch, false);
}

void AngularDescriptor::features_and_gradients(const AgentEnvironment& env, DescriptorScratch& base, double* phi,
                                               double* dphi_fc) const {
    moments(env, base, true);
    power_spectrum(base, phi);
    power_spectrum_gradients(base, dphi_fc);
}

MLDYN_MULTIVERSION void AngularDescriptor::power_spectrum_gradients(DescriptorScratch& base, double* dphi_fc) const {
    auto& s = static_cast<AngularScratch&>(base);
    const std::size_t C = channels(), pairs = C * (C + 1) / 2;
    // d phi[l, alpha <= beta] = sum_k (dc[k, alpha] c[k, beta] + c[k, alpha] dc[k, beta]) over the degree's k
    // = P[alpha, beta] + P[beta, alpha] with P = sum_k dc[k, .] c[k, .]^T. Up to 2 kLanes channels: per
    // degree and coordinate the rows of P in registers (one or two vectors over beta each), all
    // degrees stored before they are combined (as in power_spectrum).
    const bool done = with_fixed_channels(C, [&](auto fixed_c) MLDYN_LAMBDA_INLINE {
        using Traits = ChannelTraits<decltype(fixed_c)>;
        constexpr std::size_t NV = Traits::vectors, Cmax = Traits::max;
        const std::size_t Cc = fixed_c.value;
        simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
            using V = decltype(zero);
            constexpr std::size_t W = NV * simd::kLanes;
            double* rows = s.rows.data();  // rows[(((l - 1) * 3 + x) * Cc + alpha) * W + beta]
            for (int l = 1; l <= l_max_; ++l) {
                V P[3][Cmax][NV];
                for (std::size_t x = 0; x < 3; ++x)
                    for (std::size_t al = 0; al < Cc; ++al)
                        for (std::size_t j = 0; j < NV; ++j) P[x][al][j] = zero;
                for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
                    V row[NV];
                    for (std::size_t j = 0; j < NV; ++j) row[j] = simd::load_as<V>(s.cT.data() + k * Cc + j * simd::kLanes);
                    const double* dk = s.dc.data() + k * 3 * Cc;
                    for (std::size_t x = 0; x < 3; ++x)
                        for (std::size_t al = 0; al < Cc; ++al)
                            for (std::size_t j = 0; j < NV; ++j) P[x][al][j] += dk[x * Cc + al] * row[j];
                }
                for (std::size_t x = 0; x < 3; ++x)
                    for (std::size_t al = 0; al < Cc; ++al)
                        for (std::size_t j = 0; j < NV; ++j)
                            simd::store(rows + (((l - 1) * 3 + x) * Cc + al) * W + j * simd::kLanes, P[x][al][j]);
            }
            for (int l = 1; l <= l_max_; ++l) {
                double* out = dphi_fc + 3 * static_cast<std::size_t>(l - 1) * pairs;
                const double* R = rows + (l - 1) * 3 * Cc * W;  // R[(x * Cc + alpha) * W + beta]
                for (std::size_t al = 0; al < Cc; ++al)
                    for (std::size_t be = al; be < Cc; ++be, out += 3)
                        for (std::size_t x = 0; x < 3; ++x) out[x] = R[(x * Cc + al) * W + be] + R[(x * Cc + be) * W + al];
            }
        });
    });
    if (done) return;
    // More channels: per k, coordinate and alpha one contiguous run over beta.
    for (int l = 1; l <= l_max_; ++l) {
        std::fill(s.P.begin(), s.P.end(), 0.0);
        for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
            const double* ck = s.cT.data() + k * C;
            for (std::size_t x = 0; x < 3; ++x) {
                const double* dk = s.dc.data() + (k * 3 + x) * C;
                double* Px = s.P.data() + x * C * C;
                for (std::size_t al = 0; al < C; ++al) {
                    const double d = dk[al];
                    double* row = Px + al * C;
#pragma omp simd
                    for (std::size_t be = 0; be < C; ++be) row[be] += d * ck[be];
                }
            }
        }
        double* out = dphi_fc + 3 * static_cast<std::size_t>(l - 1) * pairs;
        for (std::size_t al = 0; al < C; ++al)
            for (std::size_t be = al; be < C; ++be) {
                double* d = out + 3 * pair_index(al, be, C);
                for (std::size_t x = 0; x < 3; ++x)
                    d[x] = s.P[(x * C + al) * C + be] + s.P[(x * C + be) * C + al];
            }
    }
}

void AngularDescriptor::add_force(const AgentEnvironment&, DescriptorScratch& scratch, const double* g,
                                  double* force) const {
    contract(scratch, g, force);
}

MLDYN_MULTIVERSION void AngularDescriptor::contract(DescriptorScratch& base, const double* g, double* force) const {
    auto& s = static_cast<AngularScratch&>(base);
    const std::size_t M = basis_.size(), C = channels();
    const std::size_t pairs = C * (C + 1) / 2;
    // G[alpha, k] = dH/dc[alpha, k] = sum_beta S_l[alpha, beta] c[beta, k] with S_l the symmetric matrix of
    // g[l(k), alpha <= beta] (twice g on the diagonal), k-major (G[k * C + alpha]) so that the sum over
    // beta runs over contiguous alpha. Every G[k >= 1, .] is written below (k = 0 is never read).
    for (int l = 1; l <= l_max_; ++l) {
        const double* gl = g + static_cast<std::size_t>(l - 1) * pairs;
        for (std::size_t al = 0; al < C; ++al)
            for (std::size_t be = al; be < C; ++be) {
                const double coef = gl[pair_index(al, be, C)];
                s.S[al * C + be] = s.S[be * C + al] = al == be ? 2.0 * coef : coef;
            }
        // Up to 2 kLanes channels: the rows of S in registers, G[k, .] one or two vectors (their spare
        // lanes are overwritten by the next k, or land in G's spare entries).
        const bool done = with_fixed_channels(C, [&](auto fixed_c) MLDYN_LAMBDA_INLINE {
            using Traits = ChannelTraits<decltype(fixed_c)>;
            constexpr std::size_t NV = Traits::vectors, Cmax = Traits::max;
            const std::size_t Cc = fixed_c.value;
            simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
                using V = decltype(zero);
                if constexpr (NV == 1) {  // written out: the form below measured 2-3 % slower for 8 channels
                    V rows[Cmax];
                    for (std::size_t be = 0; be < Cc; ++be) rows[be] = simd::load_as<V>(s.S.data() + be * Cc);
                    for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
                        const double* ck = s.cT.data() + k * Cc;
                        V Gk = zero;
                        for (std::size_t be = 0; be < Cc; ++be) Gk += rows[be] * ck[be];
                        simd::store(s.G.data() + k * Cc, Gk);
                    }
                    return;
                }
                V rows[Cmax][NV];
                for (std::size_t be = 0; be < Cc; ++be)
                    for (std::size_t j = 0; j < NV; ++j)
                        rows[be][j] = simd::load_as<V>(s.S.data() + be * Cc + j * simd::kLanes);
                for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
                    const double* ck = s.cT.data() + k * Cc;
                    V Gk[NV];
                    for (std::size_t j = 0; j < NV; ++j) Gk[j] = zero;
                    for (std::size_t be = 0; be < Cc; ++be)
                        for (std::size_t j = 0; j < NV; ++j) Gk[j] += rows[be][j] * ck[be];
                    for (std::size_t j = 0; j < NV; ++j) simd::store(s.G.data() + k * Cc + j * simd::kLanes, Gk[j]);
                }
            });
        });
        if (done) continue;
        for (std::size_t k = harmonic(l, -l); k <= harmonic(l, l); ++k) {
            double* Gk = s.G.data() + k * C;
            std::fill_n(Gk, C, 0.0);
            for (std::size_t be = 0; be < C; ++be) {
                const double x = s.cT[k * C + be];
                const double* Sb = s.S.data() + be * C;
#pragma omp simd
                for (std::size_t al = 0; al < C; ++al) Gk[al] += Sb[al] * x;
            }
        }
    }
    // F_agent = sum_j [A_j u_j + (V_j - (V_j . u_j) u_j) / r_j] with, over the harmonics k,
    // A_j = sum_k (sum_m G[a m, k] w'_m(r_j)) Y_k(u_j) = sum_m w'_m(r_j) U_jm with U_jm = sum_k G[a m, k] Y_k(u_j),
    // and V_j = sum_k T_jk dY_k(u_j) with T_jk = sum_m G[a m, k] w_m(r_j).
    // V is the recursion differentiated backwards from the adjoints T (harmonics_adjoint): about as much
    // work as the harmonics themselves, where forming and storing dY for every k cost three times that.
    // One block of kLanes neighbours at a time; the padding has zero weights, so it adds nothing.
    // With M known at compile time (up to 6 radial functions) the block's weights stay in registers
    // over the harmonics instead of being loaded again for each.
    constexpr std::size_t kMaxK = (kMaxL + 1) * (kMaxL + 1);
    double total[3] = {0.0, 0.0, 0.0};
    const std::size_t K = static_cast<std::size_t>((l_max_ + 1) * (l_max_ + 1));
    auto species_blocks = [&](auto fixed_m) MLDYN_LAMBDA_INLINE {
        constexpr std::size_t Mc = decltype(fixed_m)::value;  // 0: M only known at run time
        simd::with_v8([&](auto zero) MLDYN_LAMBDA_INLINE {
            using V = decltype(zero);
            const auto load = [](const double* p) MLDYN_LAMBDA_INLINE { return simd::load_as<V>(p); };
            const auto splat = [](double x) MLDYN_LAMBDA_INLINE { return simd::broadcast_as<V>(x); };
            V fx = splat(0.0), fy = fx, fz = fx;
            for (std::size_t a = 0; a < n_species_; ++a) {
                const SpeciesTerms& t = s.species[a];
                const std::size_t n = t.count, st = t.stride;
                if (!n) continue;
                const double* Ga = s.G.data() + a * M;
                for (std::size_t b = 0; b < n; b += simd::kLanes) {
                    V A = splat(0.0);
                    V W[Mc ? Mc : 1], U[Mc ? Mc : 1], v[kMaxK], adj[kMaxK];
                    if constexpr (Mc > 0)
                        for (std::size_t m = 0; m < Mc; ++m) {
                            W[m] = load(t.w.data() + m * st + b);
                            U[m] = A;
                        }
                    v[0] = splat(1.0);
                    adj[0] = A;
                    for (std::size_t k = 1; k < K; ++k) {
                        const double* Gk = Ga + k * C;
                        v[k] = load(t.Y.data() + k * st + b);
                        V T = splat(0.0);
                        if constexpr (Mc > 0) {
                            for (std::size_t m = 0; m < Mc; ++m) {
                                T += Gk[m] * W[m];
                                U[m] += Gk[m] * v[k];  // A = sum_m w'_m U_m below: no chain of K adds
                            }
                        } else {
                            V Tp = T;
                            for (std::size_t m = 0; m < M; ++m) {
                                T += Gk[m] * load(t.w.data() + m * st + b);
                                Tp += Gk[m] * load(t.dw.data() + m * st + b);
                            }
                            A += Tp * v[k];
                        }
                        adj[k] = T;
                    }
                    if constexpr (Mc > 0)
                        for (std::size_t m = 0; m < Mc; ++m) A += U[m] * load(t.dw.data() + m * st + b);
                    const V ux = load(t.ux + b), uy = load(t.uy + b), uz = load(t.uz + b), ir = load(t.inv_r + b);
                    V Vx = splat(0.0), Vy = Vx, Vz = Vx;
                    harmonics_adjoint(l_max_, ux, uy, uz, v, adj, Vx, Vy, Vz);
                    const V along = Vx * ux + Vy * uy + Vz * uz;
                    fx += A * ux + (Vx - along * ux) * ir;
                    fy += A * uy + (Vy - along * uy) * ir;
                    fz += A * uz + (Vz - along * uz) * ir;
                }
            }
            total[0] = simd::sum(fx);
            total[1] = simd::sum(fy);
            total[2] = simd::sum(fz);
        });
    };
    switch (M) {
        case 1: species_blocks(std::integral_constant<std::size_t, 1>{}); break;
        case 2: species_blocks(std::integral_constant<std::size_t, 2>{}); break;
        case 3: species_blocks(std::integral_constant<std::size_t, 3>{}); break;
        case 4: species_blocks(std::integral_constant<std::size_t, 4>{}); break;
        case 5: species_blocks(std::integral_constant<std::size_t, 5>{}); break;
        case 6: species_blocks(std::integral_constant<std::size_t, 6>{}); break;
        default: species_blocks(std::integral_constant<std::size_t, 0>{});
    }
    force[0] += total[0];
    force[1] += total[1];
    force[2] += total[2];
}

}  // namespace mldyn
