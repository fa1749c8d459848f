#pragma once
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mldyn::json {

/// A parsed JSON value (RFC 8259). Numbers are parsed with strtod (correctly rounded), so the
/// shortest round-trip floats Python writes are read back exactly; NaN and Infinity (not JSON)
/// are syntax errors. With duplicate object keys the last one wins (as in Python's json).
struct Value {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<Value> array;
    std::map<std::string, Value> object;

    bool is_null() const { return type == Type::Null; }
    /// The member `key` of an object, or nullptr if absent or not an object.
    const Value* get(const std::string& key) const;
};

/// Malformed JSON: `line` (1-based) and what was expected there.
struct SyntaxError : std::invalid_argument {
    SyntaxError(std::size_t line, const std::string& detail)
        : std::invalid_argument("JSON syntax error at line " + std::to_string(line) + ": " + detail),
          line(line),
          detail(detail) {}
    std::size_t line;
    std::string detail;
};

/// Parses a whole JSON document; throws SyntaxError on malformed input or nesting deeper than
/// 64 levels.
Value parse(const std::string& text);

}  // namespace mldyn::json
