// Forces and agent losses of one configuration with the mldyn C++ core alone, as JSON.
//
//   case_forces CASE.json [MODEL.json] [--neighbours auto|all_pairs|cell_list]
//
// CASE.json is a conformance case (tests/cases/*.json) or any JSON object with
//   "structure": {"symbols": [...], "positions": [[x, y, z], ...] (Å),
//                 "cell": [[ax, ay, az], [bx, by, bz], [cx, cy, cz]] (row vectors, Å) or null (isolated)}
//   "model":     a model file's object (schema 1 or 2, see mldyn/model_file.hpp).
// With MODEL.json the model is read from that file instead (the structure still from CASE.json).
// Both are read with the core's JSON parser (mldyn::json::parse) and model reader
// (mldyn::model_from_json). The model's unresolved cutoffs (r_cut null) become half the smallest
// perpendicular cell width, as everywhere in mldyn.
//
// Prints {"forces": [[fx, fy, fz], ...] (eV/Å), "losses": [H_k, ...] (eV)} with %.17g (exact
// round trip). On a bad file or structure prints "case_forces: <what is wrong>" to stderr and
// exits with status 1 (2 for a usage error).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mldyn/cell.hpp"
#include "mldyn/evaluator.hpp"
#include "mldyn/json.hpp"
#include "mldyn/model_file.hpp"

namespace {

using mldyn::json::Value;

/// The parsed JSON document in file `path`; errors name the file.
Value read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot open " + path);
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return mldyn::json::parse(text.str());
    } catch (const mldyn::json::SyntaxError& e) {
        throw std::invalid_argument(path + ": not valid JSON (line " + std::to_string(e.line) + ": " + e.detail + ")");
    }
}

const Value& member(const Value& obj, const std::string& key, const std::string& where) {
    const Value* v = obj.get(key);
    if (!v) throw std::invalid_argument(where + ": missing key '" + key + "'");
    return *v;
}

/// A list of `n` numbers.
std::vector<double> numbers(const Value& v, std::size_t n, const std::string& what) {
    if (v.type != Value::Type::Array || v.array.size() != n)
        throw std::invalid_argument(what + " must be a list of " + std::to_string(n) + " numbers");
    std::vector<double> out;
    for (const Value& x : v.array) {
        if (x.type != Value::Type::Number) throw std::invalid_argument(what + " must be numbers");
        out.push_back(x.number);
    }
    return out;
}

void print_rows(const std::vector<double>& x, std::size_t width) {
    for (std::size_t i = 0; i < x.size(); i += width) {
        std::printf("%s%s", i ? ", " : "", width > 1 ? "[" : "");
        for (std::size_t c = 0; c < width; ++c) std::printf("%s%.17g", c ? ", " : "", x[i + c]);
        if (width > 1) std::printf("]");
    }
}

int run(int argc, char** argv) {
    std::vector<std::string> files;
    mldyn::NeighbourMethod method = mldyn::NeighbourMethod::Auto;
    for (int k = 1; k < argc; ++k) {
        if (std::strcmp(argv[k], "--neighbours") == 0 && k + 1 < argc)
            method = mldyn::parse_neighbour_method(argv[++k]);
        else
            files.push_back(argv[k]);
    }
    if (files.empty() || files.size() > 2) {
        std::fprintf(stderr, "usage: case_forces CASE.json [MODEL.json] [--neighbours auto|all_pairs|cell_list]\n");
        return 2;
    }
    const Value root = read_json(files[0]);
    const mldyn::ModelDefinition definition =
        files.size() == 2 ? mldyn::model_from_json(read_json(files[1]), files[1])
                          : mldyn::model_from_json(member(root, "model", files[0]), files[0] + ": model");

    const std::string where = files[0] + ": structure";
    const Value& structure = member(root, "structure", files[0]);
    const Value& symbols = member(structure, "symbols", where);
    const Value& positions = member(structure, "positions", where);
    const Value& cell_v = member(structure, "cell", where);
    if (symbols.type != Value::Type::Array || positions.type != Value::Type::Array ||
        positions.array.size() != symbols.array.size())
        throw std::invalid_argument(where + ": 'symbols' and 'positions' must be lists of the same length");
    const std::size_t n = symbols.array.size();
    std::vector<int> species(n);
    std::vector<double> q;
    const std::vector<std::string>& names = definition.species();
    for (std::size_t i = 0; i < n; ++i) {
        if (symbols.array[i].type != Value::Type::String)
            throw std::invalid_argument(where + ": 'symbols' must be strings");
        const std::string& name = symbols.array[i].string;
        species[i] = -1;
        for (std::size_t s = 0; s < names.size(); ++s)
            if (names[s] == name) species[i] = static_cast<int>(s);
        if (species[i] < 0)
            throw std::invalid_argument(where + ": symbol " + std::to_string(i) + " ('" + name +
                                        "') is not a species of the model");
        const std::vector<double> p = numbers(positions.array[i], 3, where + ": position " + std::to_string(i));
        q.insert(q.end(), p.begin(), p.end());
    }
    mldyn::Cell cell;
    if (!cell_v.is_null()) {
        if (cell_v.type != Value::Type::Array || cell_v.array.size() != 3)
            throw std::invalid_argument(where + ": 'cell' must be null or three row vectors (Å)");
        mldyn::Mat3 rows{};
        for (std::size_t r = 0; r < 3; ++r) {
            const std::vector<double> v = numbers(cell_v.array[r], 3, where + ": cell vector");
            rows[r] = {v[0], v[1], v[2]};
        }
        cell = mldyn::Cell(rows);
    }

    mldyn::Evaluator evaluator(definition.build(cell.max_cutoff()));
    std::vector<double> forces(3 * n), losses(n);
    evaluator.forces(cell, q.data(), species.data(), n, method, forces.data(), losses.data());
    std::printf("{\"forces\": [");
    print_rows(forces, 3);
    std::printf("],\n \"losses\": [");
    print_rows(losses, 1);
    std::printf("]}\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "case_forces: %s\n", e.what());
        return 1;
    }
}
