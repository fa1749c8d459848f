/* mldyn LAMMPS plugin: a small JSON reader for mldyn model files (schema version 1).
 *
 * The model file layout is the one written by mldyn.modelfile.save_model:
 *   {"format": "mldyn-agent-loss-model", "schema_version": 1, "units": {...},
 *    "species": [...], "masses": [...],
 *    "basis": {"functions": [["exp", a], ["gauss", s], ["power", n], ...], "r_cut": x|null, "r_on": y|null},
 *    "loss": "linear"|"quadratic", "coefficients": {"A": S x F, "B": S x F x F}, ...}
 * Numbers are parsed with strtod (correctly rounded), so the shortest round-trip floats that
 * Python writes are read back exactly.
 */
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mldyn/weights.hpp"

namespace mldyn_lammps {

/// A parsed JSON value.
struct JsonValue {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<JsonValue> array;
    std::map<std::string, JsonValue> object;

    bool is_null() const { return type == Type::Null; }
    const JsonValue* get(const std::string& key) const;   // nullptr if absent or not an object
};

/// Parse a JSON document; throws std::runtime_error with a line number on a syntax error.
JsonValue parse_json(const std::string& text);

/// The contents of an mldyn model file. `r_cut` is NaN when the file has "r_cut": null
/// (the Python side then uses half the smallest perpendicular cell width); `r_on` is +inf
/// when the file has "r_on": null (hard cutoff).
struct ModelData {
    std::vector<std::string> species;
    std::vector<double> masses;
    std::vector<mldyn::WeightFunction> functions;
    double r_cut;
    double r_on;
    bool quadratic;
    std::vector<double> A;   // S x F, F = S * M, index a*M + m
    std::vector<double> B;   // S x F x F
    std::size_t n_species() const { return species.size(); }
    std::size_t n_functions() const { return functions.size(); }
    std::size_t n_features() const { return species.size() * functions.size(); }
    /// The mldyn basis for a given cutoff (Å); uses r_on from the file.
    mldyn::Basis basis(double r_cut_used) const;
};

/// Read and validate a model file; throws std::runtime_error naming what is wrong.
ModelData read_model_file(const std::string& path);
ModelData model_from_json(const JsonValue& root, const std::string& source);

}  // namespace mldyn_lammps
