#pragma once
/// A tiny streaming JSON writer, so the probe builds without nlohmann on GPU machines.
/// Doubles are written in the shortest form that reads back exactly (std::to_chars); NaN and
/// infinities, which JSON cannot hold, are written as null. Strings are escaped, and invalid
/// UTF-8 is replaced by U+FFFD so the output always parses.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace clustercost::probe {

class JsonWriter {
 public:
  /// `indent` spaces per level for multi-line containers.
  explicit JsonWriter(std::ostream& out, int indent = 2) : out_(out), indent_(indent) {}

  /// `inline_items` keeps a container on one line (short number arrays, shapes).
  void begin_object(bool inline_items = false);
  void end_object();
  void begin_array(bool inline_items = false);
  void end_array();

  void key(std::string_view k);
  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(double d);
  void value(std::int64_t i);
  void value(int i) { value(static_cast<std::int64_t>(i)); }
  void value(bool b);
  void null();

  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  /// True once every opened container was closed (and something was written).
  bool complete() const { return stack_.empty() && wrote_root_; }

  /// JSON string literal for `s` (with quotes), escaping as described above.
  static std::string quote(std::string_view s);
  /// The text written for a double (shortest exact form, or "null" when not finite).
  static std::string number(double d);

 private:
  struct Level {
    bool is_object;
    bool inline_items;
    bool empty = true;
  };
  void before_value();
  void newline_indent(std::size_t depth);
  void open(bool is_object, bool inline_items);
  void close(bool is_object);

  std::ostream& out_;
  int indent_;
  std::vector<Level> stack_;
  bool after_key_ = false;
  bool wrote_root_ = false;
};

}  // namespace clustercost::probe
