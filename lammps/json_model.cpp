/* mldyn LAMMPS plugin: JSON reader and model-file validation (see json_model.h). */
#include "json_model.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mldyn_lammps {

const JsonValue* JsonValue::get(const std::string& key) const {
    if (type != Type::Object) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &it->second;
}

namespace {

class Parser {
public:
    explicit Parser(const std::string& text) : s_(text) {}

    JsonValue document() {
        JsonValue v = value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("trailing characters after the JSON document");
        return v;
    }

private:
    const std::string& s_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        std::size_t line = 1;
        for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i)
            if (s_[i] == '\n') ++line;
        throw std::runtime_error("JSON syntax error at line " + std::to_string(line) + ": " + what);
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    char peek() {
        skip_ws();
        if (pos_ >= s_.size()) fail("unexpected end of input");
        return s_[pos_];
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    bool literal(const char* word) {
        std::size_t n = std::char_traits<char>::length(word);
        if (s_.compare(pos_, n, word) == 0) {
            pos_ += n;
            return true;
        }
        return false;
    }

    JsonValue value(int depth) {
        if (depth > 64) fail("nesting too deep");
        JsonValue v;
        char c = peek();
        if (c == '{') {
            v.type = JsonValue::Type::Object;
            ++pos_;
            if (peek() == '}') {
                ++pos_;
                return v;
            }
            for (;;) {
                if (peek() != '"') fail("expected a string key");
                std::string key = string();
                expect(':');
                v.object[key] = value(depth + 1);
                char d = peek();
                ++pos_;
                if (d == '}') break;
                if (d != ',') fail("expected ',' or '}' in object");
            }
        } else if (c == '[') {
            v.type = JsonValue::Type::Array;
            ++pos_;
            if (peek() == ']') {
                ++pos_;
                return v;
            }
            for (;;) {
                v.array.push_back(value(depth + 1));
                char d = peek();
                ++pos_;
                if (d == ']') break;
                if (d != ',') fail("expected ',' or ']' in array");
            }
        } else if (c == '"') {
            v.type = JsonValue::Type::String;
            v.string = string();
        } else if (literal("true")) {
            v.type = JsonValue::Type::Bool;
            v.boolean = true;
        } else if (literal("false")) {
            v.type = JsonValue::Type::Bool;
        } else if (literal("null")) {
            v.type = JsonValue::Type::Null;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = JsonValue::Type::Number;
            std::size_t start = pos_;
            if (s_[pos_] == '-') ++pos_;
            while (pos_ < s_.size() && std::string("0123456789.eE+-").find(s_[pos_]) != std::string::npos) ++pos_;
            std::string tok = s_.substr(start, pos_ - start);
            char* end = nullptr;
            errno = 0;
            v.number = std::strtod(tok.c_str(), &end);
            if (end != tok.c_str() + tok.size()) fail("malformed number '" + tok + "'");
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
        return v;
    }

    static void put_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    unsigned hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        unsigned cp = 0;
        for (int k = 0; k < 4; ++k) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= h - '0';
            else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
            else fail("bad \\u escape");
        }
        return cp;
    }
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') break;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated string");
            char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
                        pos_ += 2;
                        unsigned lo = hex4();
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    put_utf8(out, cp);
                    break;
                }
                default: fail("bad escape in string");
            }
        }
        return out;
    }
};

[[noreturn]] void bad(const std::string& source, const std::string& what) {
    throw std::runtime_error(source + ": " + what);
}

const JsonValue& require(const JsonValue& obj, const std::string& key, const std::string& where) {
    const JsonValue* v = obj.get(key);
    if (!v) bad(where, "missing key '" + key + "'");
    return *v;
}

double number(const JsonValue& v, const std::string& where) {
    if (v.type != JsonValue::Type::Number) bad(where, "expected a number");
    if (!std::isfinite(v.number)) bad(where, "number is not finite");
    return v.number;
}

}  // namespace

JsonValue parse_json(const std::string& text) { return Parser(text).document(); }

mldyn::Basis ModelData::basis(double r_cut_used) const { return mldyn::Basis(functions, r_cut_used, r_on); }

ModelData model_from_json(const JsonValue& root, const std::string& source) {
    using T = JsonValue::Type;
    if (root.type != T::Object) bad(source, "not an mldyn model file (top level is not an object)");
    const JsonValue* fmt = root.get("format");
    if (!fmt || fmt->type != T::String || fmt->string != "mldyn-agent-loss-model")
        bad(source, "not an mldyn model file (expected \"format\": \"mldyn-agent-loss-model\")");
    const JsonValue* ver = root.get("schema_version");
    if (!ver || ver->type != T::Number || ver->number != 1.0)
        bad(source, "unsupported schema_version; this plugin reads version 1");

    const JsonValue& units = require(root, "units", source);
    const std::pair<const char*, const char*> want[] = {
        {"length", "angstrom"}, {"energy", "eV"}, {"force", "eV/angstrom"}, {"mass", "amu"}, {"time", "fs"}};
    if (units.type != T::Object || units.object.size() != 5) bad(source, "units must be angstrom/eV/eV/angstrom/amu/fs");
    for (const auto& kv : want) {
        const JsonValue* u = units.get(kv.first);
        if (!u || u->type != T::String || u->string != kv.second)
            bad(source, std::string("units: '") + kv.first + "' must be '" + kv.second + "'");
    }

    ModelData m;
    const JsonValue& species = require(root, "species", source);
    if (species.type != T::Array || species.array.empty()) bad(source, "'species' must be a non-empty list of names");
    for (const auto& s : species.array) {
        if (s.type != T::String) bad(source, "'species' must be a list of strings");
        m.species.push_back(s.string);
    }
    const std::size_t S = m.species.size();
    const JsonValue& masses = require(root, "masses", source);
    if (masses.type != T::Array || masses.array.size() != S) bad(source, "'masses' must have one entry per species");
    for (const auto& x : masses.array) m.masses.push_back(number(x, source + ": masses"));

    const JsonValue& basis = require(root, "basis", source);
    const JsonValue& funcs = require(basis, "functions", source + ": basis");
    if (funcs.type != T::Array || funcs.array.empty()) bad(source, "basis: 'functions' must be a non-empty list");
    for (const auto& f : funcs.array) {
        if (f.type != T::Array || f.array.size() != 2 || f.array[0].type != T::String)
            bad(source, "basis: each function must be [kind, parameter]");
        const std::string& kind = f.array[0].string;
        double p = number(f.array[1], source + ": basis function parameter");
        mldyn::WeightFunction w{mldyn::WeightKind::Exponential, p};
        if (kind == "exp") w.kind = mldyn::WeightKind::Exponential;
        else if (kind == "gauss") w.kind = mldyn::WeightKind::Gaussian;
        else if (kind == "power") w.kind = mldyn::WeightKind::Power;
        else bad(source, "basis: unknown function kind '" + kind + "' (expected exp, gauss or power)");
        try {
            w.validate();
        } catch (const std::exception& e) {
            bad(source, std::string("basis: ") + e.what());
        }
        m.functions.push_back(w);
    }
    const JsonValue* rc = basis.get("r_cut");
    m.r_cut = (!rc || rc->is_null()) ? std::numeric_limits<double>::quiet_NaN() : number(*rc, source + ": basis r_cut");
    if (!std::isnan(m.r_cut) && !(m.r_cut > 0)) bad(source, "basis: r_cut must be positive");
    const JsonValue* ron = basis.get("r_on");
    m.r_on = (!ron || ron->is_null()) ? std::numeric_limits<double>::infinity() : number(*ron, source + ": basis r_on");
    if (m.r_on < 0) bad(source, "basis: r_on must be >= 0");
    if (!std::isnan(m.r_cut) && std::isfinite(m.r_on) && !(m.r_on < m.r_cut)) bad(source, "basis: need r_on < r_cut");

    const JsonValue& loss = require(root, "loss", source);
    if (loss.type != T::String || (loss.string != "linear" && loss.string != "quadratic"))
        bad(source, "'loss' must be 'linear' or 'quadratic'");
    m.quadratic = loss.string == "quadratic";

    const std::size_t M = m.functions.size(), F = S * M;
    const JsonValue& coeffs = require(root, "coefficients", source);
    const JsonValue& A = require(coeffs, "A", source + ": coefficients");
    const JsonValue& B = require(coeffs, "B", source + ": coefficients");
    auto shape_err = [&](const char* name, const std::string& shape) {
        bad(source, std::string("coefficient ") + name + " must have shape " + shape + " (" + std::to_string(S) +
                        " species x " + std::to_string(M) + " functions)");
    };
    const std::string sF = "(" + std::to_string(S) + ", " + std::to_string(F);
    if (A.type != T::Array || A.array.size() != S) shape_err("A", sF + ")");
    for (const auto& row : A.array) {
        if (row.type != T::Array || row.array.size() != F) shape_err("A", sF + ")");
        for (const auto& x : row.array) m.A.push_back(number(x, source + ": coefficients A"));
    }
    if (B.type != T::Array || B.array.size() != S) shape_err("B", sF + ", " + std::to_string(F) + ")");
    for (const auto& mat : B.array) {
        if (mat.type != T::Array || mat.array.size() != F) shape_err("B", sF + ", " + std::to_string(F) + ")");
        for (const auto& row : mat.array) {
            if (row.type != T::Array || row.array.size() != F) shape_err("B", sF + ", " + std::to_string(F) + ")");
            for (const auto& x : row.array) m.B.push_back(number(x, source + ": coefficients B"));
        }
    }
    if (!m.quadratic)
        for (double b : m.B)
            if (b != 0.0) bad(source, "a linear model must have B = 0");
    // B_s must be symmetric (the force formula g = A + B phi assumes it), to 1e-10 relative.
    for (std::size_t s = 0; s < S; ++s) {
        const double* Bs = m.B.data() + s * F * F;
        double scale = 0.0;
        for (std::size_t k = 0; k < F * F; ++k) scale = std::max(scale, std::fabs(Bs[k]));
        for (std::size_t i = 0; i < F; ++i)
            for (std::size_t j = i + 1; j < F; ++j)
                if (std::fabs(Bs[i * F + j] - Bs[j * F + i]) > 1e-10 * scale)
                    bad(source, "coefficient B for species '" + m.species[s] + "' is not symmetric");
    }
    return m;
}

ModelData read_model_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open mldyn model file " + path);
    std::ostringstream buf;
    buf << in.rdbuf();
    JsonValue root;
    try {
        root = parse_json(buf.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    return model_from_json(root, path);
}

}  // namespace mldyn_lammps
