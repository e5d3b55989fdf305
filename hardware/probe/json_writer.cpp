#include "hardware/probe/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace clustercost::probe {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid (overlong
// forms, surrogates and code points above U+10FFFF are invalid, per RFC 3629).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char c = byte(i);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t j = 1; j < len; ++j) {
    if ((byte(i + j) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (byte(i + j) & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

}  // namespace

std::string JsonWriter::quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string r;
  r.reserve(s.size() + 2);
  r.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      r.push_back('\\');
      r.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      r += "\\n";
      ++i;
    } else if (c == '\t') {
      r += "\\t";
      ++i;
    } else if (c == '\r') {
      r += "\\r";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      r += "\\u00";
      r.push_back(kHex[c >> 4]);
      r.push_back(kHex[c & 0xF]);
      ++i;
    } else if (c < 0x80) {
      r.push_back(static_cast<char>(c));
      ++i;
    } else if (const std::size_t len = utf8_sequence_length(s, i); len > 0) {
      r.append(s.substr(i, len));
      i += len;
    } else {
      r += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    }
  }
  r.push_back('"');
  return r;
}

std::string JsonWriter::number(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d);
  if (res.ec != std::errc()) return "null";
  return std::string(buf, res.ptr);
}

void JsonWriter::newline_indent(std::size_t depth) {
  out_.put('\n');
  for (std::size_t i = 0; i < depth * static_cast<std::size_t>(indent_); ++i) out_.put(' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) {
    if (wrote_root_) throw std::logic_error("JsonWriter: a second root value");
    wrote_root_ = true;
    return;
  }
  Level& top = stack_.back();
  if (top.is_object) throw std::logic_error("JsonWriter: value without a key inside an object");
  if (!top.empty) out_.put(',');
  if (top.inline_items) {
    if (!top.empty) out_.put(' ');
  } else {
    newline_indent(stack_.size());
  }
  top.empty = false;
}

void JsonWriter::key(std::string_view k) {
  if (stack_.empty() || !stack_.back().is_object || after_key_) {
    throw std::logic_error("JsonWriter: key outside an object");
  }
  Level& top = stack_.back();
  if (!top.empty) out_.put(',');
  if (top.inline_items) {
    if (!top.empty) out_.put(' ');
  } else {
    newline_indent(stack_.size());
  }
  top.empty = false;
  out_ << quote(k) << ": ";
  after_key_ = true;
}

void JsonWriter::open(bool is_object, bool inline_items) {
  before_value();
  out_.put(is_object ? '{' : '[');
  // A container inside an inline one stays inline.
  const bool parent_inline = !stack_.empty() && stack_.back().inline_items;
  stack_.push_back(Level{is_object, inline_items || parent_inline});
}

void JsonWriter::close(bool is_object) {
  if (stack_.empty() || stack_.back().is_object != is_object || after_key_) {
    throw std::logic_error("JsonWriter: unbalanced container");
  }
  const Level top = stack_.back();
  stack_.pop_back();
  if (!top.empty && !top.inline_items) newline_indent(stack_.size());
  out_.put(is_object ? '}' : ']');
}

void JsonWriter::begin_object(bool inline_items) { open(true, inline_items); }
void JsonWriter::end_object() { close(true); }
void JsonWriter::begin_array(bool inline_items) { open(false, inline_items); }
void JsonWriter::end_array() { close(false); }

void JsonWriter::value(std::string_view s) {
  before_value();
  out_ << quote(s);
}

void JsonWriter::value(double d) {
  before_value();
  out_ << number(d);
}

void JsonWriter::value(std::int64_t i) {
  before_value();
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), i);
  out_.write(buf, res.ptr - buf);
}

void JsonWriter::value(bool b) {
  before_value();
  out_ << (b ? "true" : "false");
}

void JsonWriter::null() {
  before_value();
  out_ << "null";
}

}  // namespace clustercost::probe
