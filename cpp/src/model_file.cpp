#include "mldyn/model_file.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "mldyn/angular_descriptor.hpp"
#include "mldyn/design.hpp"
#include "mldyn/radial_descriptor.hpp"

namespace mldyn {

// ----------------------------------------------------------------------------- descriptor specs

std::size_t DescriptorSpec::size(int n_species) const {
    const std::size_t C = static_cast<std::size_t>(n_species) * functions.size();
    return family == "angular" ? static_cast<std::size_t>(l_max) * C * (C + 1) / 2 : C;
}

void DescriptorSpec::validate() const {
    if (family != "radial" && family != "angular")
        throw std::invalid_argument("unknown descriptor family '" + family + "' (this mldyn knows: radial, angular)");
    if (family == "angular" && (l_max < 1 || l_max > AngularDescriptor::kMaxL))
        throw std::invalid_argument("l_max must be between 1 and " + std::to_string(AngularDescriptor::kMaxL) +
                                    ", got " + std::to_string(l_max));
    if (family == "radial" && l_max != 0) throw std::invalid_argument("the radial family has no l_max");
    if (functions.empty()) throw std::invalid_argument("needs at least one weight function");
    for (const WeightFunction& f : functions) f.validate();
    if (!std::isnan(r_cut) && !(r_cut > 0.0))
        throw std::invalid_argument("r_cut must be positive (Å) or null, got " + std::to_string(r_cut));
    if (std::isnan(r_on) || r_on < 0.0)
        throw std::invalid_argument("r_on must be >= 0 (Å) or null, got " + std::to_string(r_on));
    if (!std::isnan(r_cut) && std::isfinite(r_on) && !(r_on < r_cut))
        throw std::invalid_argument("need r_on < r_cut, got r_on = " + std::to_string(r_on) +
                                    " Å, r_cut = " + std::to_string(r_cut) + " Å");
}

std::shared_ptr<const Descriptor> DescriptorSpec::build(int n_species, double default_cutoff) const {
    double rc = r_cut;
    if (std::isnan(rc)) {
        // Isolated systems have no default: an infinite cutoff (every pair), unless switching needs one.
        if (!(default_cutoff > 0.0) || (std::isinf(default_cutoff) && std::isfinite(r_on)))
            throw std::invalid_argument(
                "the cutoff is 'half the smallest cell width' (r_cut null) but the system has no periodic cell and "
                "the switching from r_on needs a finite cutoff: give r_cut");
        rc = default_cutoff;
    }
    if (std::isfinite(r_on) && !(r_on < rc)) {
        std::ostringstream msg;
        msg.precision(10);
        msg << "switching start r_on = " << r_on << " Å must be below the cutoff " << rc << " Å";
        throw std::invalid_argument(msg.str());
    }
    RadialBasis basis(functions, rc, r_on);
    if (family == "angular") return std::make_shared<AngularDescriptor>(std::move(basis), l_max, n_species);
    return std::make_shared<RadialDescriptor>(std::move(basis), n_species);
}

// ----------------------------------------------------------------------------- the definition

ModelDefinition::ModelDefinition(std::vector<std::string> species, std::vector<double> masses,
                                 std::vector<DescriptorSpec> descriptors, bool quadratic, std::vector<double> A_sf,
                                 std::vector<double> B_sqq, std::size_t n_quadratic)
    : species_(std::move(species)),
      masses_(std::move(masses)),
      descriptors_(std::move(descriptors)),
      quadratic_(quadratic),
      A_(std::move(A_sf)),
      B_(std::move(B_sqq)) {
    if (species_.empty()) throw std::invalid_argument("model: needs at least one species");
    std::set<std::string> seen;
    for (const std::string& s : species_) {
        if (s.empty()) throw std::invalid_argument("model: species names must be non-empty");
        if (!seen.insert(s).second) throw std::invalid_argument("model: species '" + s + "' appears twice");
    }
    const std::size_t S = species_.size();
    if (masses_.size() != S)
        throw std::invalid_argument("model: needs one mass per species (" + std::to_string(S) + "), got " +
                                    std::to_string(masses_.size()));
    for (std::size_t s = 0; s < S; ++s)
        if (!std::isfinite(masses_[s]) || !(masses_[s] > 0.0)) {
            std::ostringstream msg;
            msg << "model: mass of species '" << species_[s] << "' must be a positive number (amu), got " << masses_[s];
            throw std::invalid_argument(msg.str());
        }
    if (descriptors_.empty()) throw std::invalid_argument("model: needs at least one descriptor");
    for (std::size_t d = 0; d < descriptors_.size(); ++d) {
        try {
            descriptors_[d].validate();
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("model: invalid descriptor " + std::to_string(d + 1) + " (" +
                                        descriptors_[d].family + "): " + e.what());
        }
        n_features_ += descriptors_[d].size(n_species());
    }
    n_quadratic_ = n_quadratic == AgentLossModel::kAllFeatures ? n_features_ : n_quadratic;
    validate_coefficients(S, n_features_, n_quadratic_, A_, B_);
    if (!quadratic_)
        for (double b : B_)
            if (b != 0.0) throw std::invalid_argument("model: a linear model must have B = 0");
}

std::size_t ModelDefinition::n_parameters() const { return n_fit_parameters(n_features_, n_quadratic_); }

void ModelDefinition::set_covariance(std::shared_ptr<const ForceCovariance> covariance) {
    if (covariance && (covariance->species().size() != species_.size() || covariance->n_parameters() != n_parameters()))
        throw std::invalid_argument("force covariance: made for " + std::to_string(covariance->species().size()) +
                                    " species and " + std::to_string(covariance->n_parameters()) +
                                    " parameters, the model has " + std::to_string(species_.size()) + " and " +
                                    std::to_string(n_parameters()));
    covariance_ = std::move(covariance);
}

bool ModelDefinition::cutoff_from_cell() const {
    for (const DescriptorSpec& d : descriptors_)
        if (std::isnan(d.r_cut)) return true;
    return false;
}

std::shared_ptr<const AgentLossModel> ModelDefinition::build(double default_cutoff, bool pair_tables) const {
    std::vector<std::shared_ptr<const Descriptor>> parts;
    for (const DescriptorSpec& d : descriptors_) parts.push_back(d.build(n_species(), default_cutoff));
    return std::make_shared<const AgentLossModel>(DescriptorSet(std::move(parts), n_species()), A_, B_, n_quadratic_,
                                                  pair_tables);
}

// ----------------------------------------------------------------------------- the reader

namespace {

using json::Value;
using Type = Value::Type;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
    throw std::invalid_argument(source + ": " + what);
}

const Value& require(const Value& obj, const std::string& key, const std::string& source, const std::string& where) {
    const Value* v = obj.get(key);
    if (!v) bad(source, (where.empty() ? "" : where + ": ") + "missing key '" + key + "'");
    return *v;
}

double number(const Value& v, const std::string& source, const std::string& what) {
    if (v.type != Type::Number) bad(source, what + " must be a number");
    if (!std::isfinite(v.number)) bad(source, what + " is not finite");
    return v.number;
}

/// A number, or NaN / `null_value` for JSON null.
double number_or_null(const Value* v, double null_value, const std::string& source, const std::string& what) {
    if (!v || v->is_null()) return null_value;
    return number(*v, source, what);
}

/// Shape of a rectangular nested list of numbers ("" if it is not one), and its numbers in order.
bool flatten(const Value& v, std::size_t depth, std::vector<std::size_t>& shape, std::vector<double>& out) {
    if (depth == shape.size()) {
        if (v.type != Type::Number || !std::isfinite(v.number)) return false;
        out.push_back(v.number);
        return true;
    }
    if (v.type != Type::Array || v.array.size() != shape[depth]) return false;
    for (const Value& x : v.array)
        if (!flatten(x, depth + 1, shape, out)) return false;
    return true;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "(";
    for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + ")";
}

/// The numbers of a coefficient array that must have `expected` shape.
std::vector<double> coefficient_array(const Value& v, const std::vector<std::size_t>& expected, const std::string& name,
                                      const std::string& source, const std::string& meaning) {
    std::vector<double> out;
    std::vector<std::size_t> shape = expected;
    if (flatten(v, 0, shape, out)) return out;
    // Describe what was found: the outer lengths along the first elements.
    std::vector<std::size_t> found;
    const Value* x = &v;
    while (x->type == Type::Array) {
        found.push_back(x->array.size());
        if (x->array.empty()) break;
        x = &x->array[0];
    }
    bad(source, "coefficients: " + name + " has shape " + shape_text(found) + ", expected " + shape_text(expected) +
                    " for " + meaning + " (all entries finite numbers)");
}

std::vector<WeightFunction> weight_functions(const Value& funcs, const std::string& source, const std::string& where) {
    if (funcs.type != Type::Array || funcs.array.empty()) bad(source, where + ": 'functions' must be a non-empty list");
    std::vector<WeightFunction> out;
    for (const Value& f : funcs.array) {
        if (f.type != Type::Array || f.array.size() != 2 || f.array[0].type != Type::String)
            bad(source, where + ": each function must be [kind, parameter], e.g. [\"exp\", 0.5]");
        WeightFunction w{WeightKind::Exponential, number(f.array[1], source, where + ": function parameter")};
        try {
            w.kind = parse_weight_kind(f.array[0].string);
        } catch (const std::invalid_argument& e) {
            bad(source, where + ": " + e.what());
        }
        out.push_back(w);
    }
    return out;
}

DescriptorSpec descriptor_spec(const Value& d, const std::string& family, const std::string& source,
                               const std::string& where) {
    DescriptorSpec spec;
    spec.family = family;
    if (family == "angular") {
        const Value& l = require(d, "l_max", source, where);
        const double x = number(l, source, where + ": l_max");
        if (x != std::floor(x) || std::abs(x) > 1e6) bad(source, where + ": l_max must be a whole number");
        spec.l_max = static_cast<int>(x);
    }
    spec.functions = weight_functions(require(d, "functions", source, where), source, where);
    spec.r_cut = number_or_null(d.get("r_cut"), std::numeric_limits<double>::quiet_NaN(), source, where + ": r_cut");
    spec.r_on = number_or_null(d.get("r_on"), std::numeric_limits<double>::infinity(), source, where + ": r_on");
    try {
        spec.validate();
    } catch (const std::invalid_argument& e) {
        bad(source, "invalid " + where + " (" + spec.family + "): " + e.what());
    }
    return spec;
}

/// Decodes standard base64 (RFC 4648, '=' padding) into little-endian float64 values.
std::vector<double> base64_doubles(const std::string& text, const std::string& source, const std::string& what) {
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::vector<unsigned char> bytes;
    bytes.reserve(text.size() / 4 * 3);
    unsigned buffer = 0;
    int bits = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] != '='; ++i) {
        const std::size_t v = alphabet.find(text[i]);
        if (v == std::string::npos) bad(source, what + ": not base64 (character " + std::to_string(i + 1) + ")");
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(static_cast<unsigned char>((buffer >> bits) & 0xFFu));
        }
    }
    if (bytes.size() % 8 != 0) bad(source, what + ": base64 data is not a whole number of float64 values");
    std::vector<double> out(bytes.size() / 8);
    for (std::size_t k = 0; k < out.size(); ++k) {
        std::uint64_t u = 0;
        for (int b = 7; b >= 0; --b) u = (u << 8) | bytes[8 * k + static_cast<std::size_t>(b)];
        std::memcpy(&out[k], &u, sizeof(double));
    }
    return out;
}

std::shared_ptr<const ForceCovariance> covariance_from_json(const Value& u, std::size_t S, std::size_t P,
                                                            const std::string& source) {
    const Value* list = u.get("species");
    if (u.type != Type::Object || !list || list->type != Type::Array || list->array.size() != S)
        bad(source, "'uncertainty' must be an object whose \"species\" lists " + std::to_string(S) +
                        " entries (one per species, null for none)");
    std::vector<SpeciesCovariance> species(S);
    for (std::size_t s = 0; s < S; ++s) {
        const Value& e = list->array[s];
        if (e.is_null()) continue;
        const std::string where = "uncertainty of species " + std::to_string(s + 1);
        const Value& params = require(e, "params", source, where);
        if (params.type != Type::Array) bad(source, where + ": 'params' must be a list of parameter indices");
        for (const Value& p : params.array) {
            const double x = number(p, source, where + " params");
            if (x < 0 || x != std::floor(x)) bad(source, where + ": 'params' must hold whole numbers >= 0");
            species[s].params.push_back(static_cast<std::size_t>(x));
        }
        const Value& factor = require(e, "factor", source, where);
        if (factor.type != Type::String) bad(source, where + ": 'factor' must be a base64 string");
        species[s].factor = base64_doubles(factor.string, source, where + " factor");
        species[s].noise_variance = number(require(e, "noise_variance", source, where), source, where + " noise_variance");
    }
    try {
        return std::make_shared<const ForceCovariance>(P, std::move(species));
    } catch (const std::invalid_argument& e) {
        bad(source, e.what());
    }
}

}  // namespace

ModelDefinition model_from_json(const Value& root, const std::string& source) {
    constexpr const char* kFormat = "mldyn-agent-loss-model";
    if (root.type != Type::Object) bad(source, "not an mldyn model file (the top level is not a JSON object)");
    const Value* fmt = root.get("format");
    if (!fmt || fmt->type != Type::String || fmt->string != kFormat)
        bad(source, std::string("not an mldyn model file (expected \"format\": \"") + kFormat + "\")");
    const Value* ver = root.get("schema_version");
    const int version = (ver && ver->type == Type::Number && (ver->number == 1.0 || ver->number == 2.0))
                            ? static_cast<int>(ver->number)
                            : 0;
    if (!version) {
        std::string got = !ver ? "missing" : ver->type == Type::Number ? [&] {
            std::ostringstream s;
            s << ver->number;
            return s.str();
        }() : "not a number";
        bad(source, "unsupported schema_version " + got + "; this mldyn reads versions 1 and 2");
    }

    const Value& units = require(root, "units", source, "");
    const std::pair<const char*, const char*> want[] = {
        {"length", "angstrom"}, {"energy", "eV"}, {"force", "eV/angstrom"}, {"mass", "amu"}, {"time", "fs"}};
    bool units_ok = units.type == Type::Object && units.object.size() == 5;
    for (const auto& kv : want) {
        const Value* u = units.get(kv.first);
        units_ok = units_ok && u && u->type == Type::String && u->string == kv.second;
    }
    if (!units_ok)
        bad(source, "units must be {\"length\": \"angstrom\", \"energy\": \"eV\", \"force\": \"eV/angstrom\", "
                    "\"mass\": \"amu\", \"time\": \"fs\"} (mldyn's units)");

    const Value& species_v = require(root, "species", source, "");
    if (species_v.type != Type::Array || species_v.array.empty())
        bad(source, "'species' must be a non-empty list of names");
    std::vector<std::string> species;
    for (const Value& s : species_v.array) {
        if (s.type != Type::String) bad(source, "'species' must be a list of strings");
        species.push_back(s.string);
    }
    const Value& masses_v = require(root, "masses", source, "");
    if (masses_v.type != Type::Array) bad(source, "'masses' must be a list of numbers (amu), one per species");
    std::vector<double> masses;
    for (const Value& x : masses_v.array) masses.push_back(number(x, source, "masses"));

    std::vector<DescriptorSpec> descriptors;
    if (version == 1) {
        descriptors.push_back(descriptor_spec(require(root, "basis", source, ""), "radial", source, "basis"));
    } else {
        const Value& list = require(root, "descriptors", source, "");
        if (list.type != Type::Array || list.array.empty())
            bad(source, "'descriptors' must be a non-empty list of descriptor objects");
        for (std::size_t d = 0; d < list.array.size(); ++d) {
            const std::string where = "descriptor " + std::to_string(d + 1);
            const Value& fam = require(list.array[d], "family", source, where);
            if (fam.type != Type::String) bad(source, where + ": 'family' must be a string");
            if (fam.string != "radial" && fam.string != "angular")
                bad(source, where + ": unknown descriptor family '" + fam.string + "' (this mldyn knows: radial, angular)");
            descriptors.push_back(descriptor_spec(list.array[d], fam.string, source, where));
        }
    }

    const Value& loss = require(root, "loss", source, "");
    if (loss.type != Type::String || (loss.string != "linear" && loss.string != "quadratic"))
        bad(source, "'loss' must be 'linear' or 'quadratic'");

    const std::size_t S = species.size();
    std::size_t F = 0;
    for (const DescriptorSpec& d : descriptors) F += d.size(static_cast<int>(S));
    std::size_t Fq = F;
    if (const Value* q = root.get("quadratic_features")) {
        const double x = number(*q, source, "quadratic_features");
        if (x != std::floor(x) || x < 0 || x > static_cast<double>(F))
            bad(source, "quadratic_features must be a whole number between 0 and the " + std::to_string(F) +
                            " invariants of the row");
        Fq = static_cast<std::size_t>(x);
    }
    const std::string meaning = std::to_string(S) + " species x " + std::to_string(F) + " invariants";
    const Value& coeffs = require(root, "coefficients", source, "");
    std::vector<double> A = coefficient_array(require(coeffs, "A", source, "coefficients"), {S, F}, "A", source, meaning);
    std::vector<double> B = coefficient_array(require(coeffs, "B", source, "coefficients"), {S, Fq, Fq}, "B", source,
                                              std::to_string(S) + " species x " + std::to_string(Fq) +
                                                  " invariants in the quadratic block");
    try {
        ModelDefinition model(std::move(species), std::move(masses), std::move(descriptors),
                              loss.string == "quadratic", std::move(A), std::move(B), Fq);
        const Value* u = root.get("uncertainty");
        if (u && !u->is_null())
            model.set_covariance(covariance_from_json(*u, S, model.n_parameters(), source));
        return model;
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        if (what.rfind(source + ":", 0) == 0) throw;
        bad(source, what);
    }
}

ModelDefinition parse_model_file(const std::string& text, const std::string& source) {
    json::Value root;
    try {
        root = json::parse(text);
    } catch (const json::SyntaxError& e) {
        bad(source, "not valid JSON (line " + std::to_string(e.line) + ": " + e.detail + ")");
    }
    return model_from_json(root, source);
}

ModelDefinition read_model_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot open mldyn model file " + path);
    std::ostringstream buf;
    buf << in.rdbuf();
    return parse_model_file(buf.str(), path);
}

}  // namespace mldyn
