#pragma once
#include <string>
#include <vector>

namespace mldyn {

/// Family of a radial weight function w(r), r in Å.
enum class WeightKind { Exponential, Gaussian, Power, Core };

/// The family's name in model files and Python: "exp", "gauss" or "power".
const char* weight_kind_name(WeightKind kind);
/// The family named `name`; throws std::invalid_argument naming the known families.
WeightKind parse_weight_kind(const std::string& name);

/// One weight function of the basis.
///  - Exponential: w(r) = exp(-alpha r), `param` = alpha in 1/Å (> 0);
///  - Gaussian:    w(r) = exp(-r² / (2 sigma²)), `param` = sigma in Å (> 0);
///  - Power:       w(r) = r^-n, `param` = n (> 0, dimensionless);
///  - Core:        w(r) = ((r_w / r)^4 - 1)^3 / 64 for r < r_w, 0 beyond, `param` = r_w in Å (> 0): a
///                 short-range wall, ~(1 - r/r_w)^3 just below r_w and exactly zero (with its first two
///                 derivatives) from r_w on, growing as (r_w/r)^12 / 64 at short range, faster than any
///                 product of the other families' terms, so a positive coefficient always wins there.
struct WeightFunction {
    WeightKind kind;
    double param;
    /// Throws std::invalid_argument if `param` is not finite and positive.
    void validate() const;
    std::string describe() const;
};

/// Smooth switching S(r) that takes weights to zero between r_on and r_cut (Å).
/// S = 1 below r_on, 0 at and beyond r_cut, and the quintic smoothstep
/// 1 - 10x³ + 15x⁴ - 6x⁵ with x = (r - r_on)/(r_cut - r_on) in between, so the
/// weighted invariants and their gradients (and second derivatives) are continuous.
/// With r_on >= r_cut there is no switching: a hard cutoff at r_cut.
struct Switching {
    double r_on;
    double r_cut;
    bool active() const { return r_on < r_cut; }
};

/// An ordered list of radial weight functions w_m(r) plus cutoff and switching: the radial
/// part shared by the descriptor families.
///
/// Evaluation writes w_m(r)·S(r) and d/dr [w_m(r)·S(r)] for every function m.
class RadialBasis {
public:
    /// `r_cut` in Å (may be +inf for no cutoff); `r_on` in Å, switching starts there
    /// (pass r_on >= r_cut, or +inf, for a hard cutoff). Throws std::invalid_argument
    /// on an empty list, a bad parameter, a non-positive cutoff or r_on < 0.
    RadialBasis(std::vector<WeightFunction> functions, double r_cut, double r_on);

    /// The paper's 18 functions: exp(-r/k) for k = 1..8, Gaussians with sigma = 1..8 Å,
    /// and r^-1, r^-2.
    static std::vector<WeightFunction> paper_default();

    std::size_t size() const { return functions_.size(); }
    const std::vector<WeightFunction>& functions() const { return functions_; }
    double r_cut() const { return switching_.r_cut; }
    double r_on() const { return switching_.r_on; }
    bool has_power() const { return has_power_; }

    /// Values and radial derivatives (per Å) at distance r > 0 (Å) into w[0..M) and dw[0..M).
    void evaluate(double r, double* w, double* dw) const;

    /// The same for a batch of `count` distances r (Å) with their inverses inv_r (1/Å):
    /// w[m * stride + b] and dw[m * stride + b] for function m and distance b (stride >= count).
    /// The loops run over the batch, so they vectorise; functions whose parameter is an
    /// integer multiple of another one's are taken as integer powers of it (exp(-k a r) =
    /// exp(-a r)^k), which halves the exponentials of the paper's basis.
    /// With `derivatives` false only w is meaningful (dw is used as scratch).
    void evaluate_batch(const double* r, const double* inv_r, std::size_t count, double* w, double* dw,
                        std::size_t stride, bool derivatives = true) const;

    /// Raw weights w_m(r), without switching, for a batch: w[m * stride + b]. Cheaper than
    /// `evaluate_batch` (no derivatives); the derivative follows from the value as
    /// dw_m/dr = derivative_factor(m) * w_m * {1, r, 1/r} for {exponential, Gaussian, power}.
    void evaluate_values(const double* r, const double* inv_r, std::size_t count, double* w,
                         std::size_t stride) const;
    /// Switching S(r) and dS/dr (1/Å) for a batch (S = 1, dS = 0 without switching).
    void switching_batch(const double* r, std::size_t count, double* s, double* ds) const;
    bool switched() const { return switching_.active(); }
    /// -alpha (1/Å), -1/sigma² (1/Å²), -n, or -3/16 for function m: for the first three
    /// dw_m/dr = factor * w_m * {1, r, 1/r} (see `evaluate_values`); for a core, with x = r_w / r,
    /// dw/dr = factor * (x^4 - 1)^2 x^4 / r.
    double derivative_factor(std::size_t m) const;

private:
    void plan();

    std::vector<WeightFunction> functions_;
    Switching switching_;
    bool has_power_ = false;
    // Evaluation plan: functions in `order_`, each computed directly (base_ < 0) or as
    // w[base_]^power_ of a function earlier in the order.
    std::vector<std::size_t> order_;
    std::vector<long> base_;
    std::vector<unsigned> power_;
};

}  // namespace mldyn
