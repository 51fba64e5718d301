// tapezoo: .npy encode/decode (see npy.hpp for the format).
#include "datasets/npy.hpp"

#include <bit>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>

#include "datasets/files.hpp"

namespace tz {

static_assert(std::endian::native == std::endian::little,
              "tapezoo reads and writes little-endian files with memcpy: a big-endian host needs byte swaps");

std::string_view dtype_descr(DType t) {
  switch (t) {
    case DType::u1: return "|u1";
    case DType::i4: return "<i4";
    case DType::i8: return "<i8";
    case DType::f4: return "<f4";
    case DType::f8: return "<f8";
  }
  return "?";
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::u1: return 1;
    case DType::i4: return 4;
    case DType::i8: return 8;
    case DType::f4: return 4;
    case DType::f8: return 8;
  }
  return 0;
}

std::string_view accepted_npy_dtypes() { return "'<f4', '<f8', '<i4', '<i8', '|u1'"; }

static std::optional<DType> dtype_from_descr(std::string_view d) {
  if (d == "<f4") return DType::f4;
  if (d == "<f8") return DType::f8;
  if (d == "<i4") return DType::i4;
  if (d == "<i8") return DType::i8;
  if (d == "|u1" || d == "<u1" || d == ">u1") return DType::u1;  // byte order is moot for one byte
  return std::nullopt;
}

std::string shape_string(const std::vector<std::size_t>& shape, bool python) {
  std::string s = python ? "(" : "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (python && shape.size() == 1) s += ",";
  s += python ? ")" : "]";
  return s;
}

std::size_t NdArray::size() const {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

template <class T, class Src>
void convert_into(T* out, const char* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, in + i * sizeof(Src), sizeof(Src));
    out[i] = static_cast<T>(v);
  }
}

template <class T>
xt::xarray<T> convert(const NdArray& a) {
  if (a.bytes.size() != a.size() * dtype_size(a.dtype))
    throw std::invalid_argument("NdArray: " + std::to_string(a.bytes.size()) + " bytes do not fit shape " +
                                shape_string(a.shape) + " of " + std::string(dtype_descr(a.dtype)));
  xt::xarray<T> out = xt::xarray<T>::from_shape(a.shape);
  const std::size_t n = a.size();
  const char* in = a.bytes.data();
  switch (a.dtype) {
    case DType::u1: convert_into<T, std::uint8_t>(out.data(), in, n); break;
    case DType::i4: convert_into<T, std::int32_t>(out.data(), in, n); break;
    case DType::i8: convert_into<T, std::int64_t>(out.data(), in, n); break;
    case DType::f4: convert_into<T, float>(out.data(), in, n); break;
    case DType::f8: convert_into<T, double>(out.data(), in, n); break;
  }
  return out;
}

// ---- the header: a Python dict literal with string, bool and tuple values -------------------

struct HeaderValue {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string str;
  bool boolean = false;
  std::vector<std::size_t> tuple;
  std::string text;  // the literal as written, for messages
};

class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& source) : s_(s), source_(source) {}

  // Returns (key, value) pairs in order.
  std::vector<std::pair<std::string, HeaderValue>> parse_dict() {
    std::vector<std::pair<std::string, HeaderValue>> out;
    expect('{');
    for (;;) {
      if (accept('}')) break;
      std::string key = parse_string();
      expect(':');
      HeaderValue v = parse_value();
      out.emplace_back(std::move(key), std::move(v));
      if (accept(',')) continue;
      expect('}');
      break;
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FileError(source_ + ": malformed .npy header (" + what + " at offset " + std::to_string(i_) +
                    "): " + printable(s_, 200));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  // Skips white space, then consumes c if it comes next.
  bool accept(char c) {
    skip_space();
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  HeaderValue parse_value() {
    skip_space();
    HeaderValue v;
    const std::size_t start = i_;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::String;
      v.str = parse_string();
    } else if (s_.substr(i_, 4) == "True") {
      v.kind = HeaderValue::Bool;
      v.boolean = true;
      i_ += 4;
    } else if (s_.substr(i_, 5) == "False") {
      v.kind = HeaderValue::Bool;
      i_ += 5;
    } else if (c == '(') {
      v.kind = HeaderValue::Tuple;
      ++i_;
      for (;;) {
        if (accept(')')) break;
        if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer in the shape");
        std::size_t d = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
          const std::size_t digit = static_cast<std::size_t>(peek() - '0');
          if (d > (SIZE_MAX - digit) / 10) fail("shape entry too large");
          d = d * 10 + digit;
          ++i_;
        }
        if (peek() == 'L') ++i_;  // Python 2 longs
        v.tuple.push_back(d);
        if (accept(',')) continue;
        expect(')');
        break;
      }
    } else {
      // Lists (structured dtypes), dicts, numbers: skip the balanced literal and keep its text.
      int depth = 0;
      while (i_ < s_.size()) {
        const char ch = s_[i_];
        if (ch == '\'' || ch == '"') {
          parse_string();
          continue;
        }
        if (ch == '[' || ch == '(' || ch == '{') ++depth;
        if (ch == ']' || ch == ')' || ch == '}') {
          if (depth == 0) break;
          --depth;
        }
        if (ch == ',' && depth == 0) break;
        ++i_;
      }
    }
    v.text = std::string(s_.substr(start, i_ - start));
    return v;
  }

  std::string_view s_;
  const std::string& source_;
  std::size_t i_ = 0;
};

std::uint32_t read_le32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

xt::xarray<float> NdArray::to_float() const { return convert<float>(*this); }
xt::xarray<double> NdArray::to_double() const { return convert<double>(*this); }

std::string encode_npy(const NdArray& a) {
  if (a.bytes.size() != a.size() * dtype_size(a.dtype))
    throw std::invalid_argument("encode_npy: " + std::to_string(a.bytes.size()) + " bytes do not fit shape " +
                                shape_string(a.shape) + " of " + std::string(dtype_descr(a.dtype)));
  std::string dict = "{'descr': '" + std::string(dtype_descr(a.dtype)) +
                     "', 'fortran_order': False, 'shape': " + shape_string(a.shape, true) + ", }";
  // magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64 (NumPy >= 1.23).
  const std::size_t unpadded = 10 + dict.size() + 1;
  const std::size_t total = (unpadded + 63) / 64 * 64;
  if (total - 10 > 65535) throw std::invalid_argument("encode_npy: header too long for format 1.0");
  dict.append(total - unpadded, ' ');
  dict += '\n';
  std::string out;
  out.reserve(total + a.bytes.size());
  out.append("\x93NUMPY", 6);
  out.push_back('\x01');
  out.push_back('\x00');
  const std::uint16_t len = static_cast<std::uint16_t>(dict.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  out += dict;
  out += a.bytes;
  return out;
}

NdArray decode_npy(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6))
    throw FileError(source + ": not a .npy file (expected the magic bytes \\x93NUMPY at the start)");
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw FileError(source + ": .npy header truncated");
    header_len = read_le32(bytes.data() + 8);
    header_start = 12;
  } else {
    throw FileError(source + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                    " is not supported (expected 1.0, 2.0 or 3.0)");
  }
  if (bytes.size() < header_start + header_len)
    throw FileError(source + ": .npy header says " + std::to_string(header_len) + " bytes but the file has only " +
                    std::to_string(bytes.size() - header_start) + " after the preamble (file truncated?)");
  const std::string_view header = bytes.substr(header_start, header_len);
  const auto entries = HeaderParser(header, source).parse_dict();

  const HeaderValue* descr = nullptr;
  const HeaderValue* fortran = nullptr;
  const HeaderValue* shape = nullptr;
  for (const auto& [k, v] : entries) {
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape = &v;
  }
  if (!descr || !fortran || !shape)
    throw FileError(source + ": .npy header lacks one of 'descr', 'fortran_order', 'shape': " + printable(header, 200));
  if (descr->kind != HeaderValue::String)
    throw FileError(source + ": dtype " + printable(descr->text, 200) + " (a structured dtype) is not supported; accepted: " +
                    std::string(accepted_npy_dtypes()));
  if (fortran->kind != HeaderValue::Bool) throw FileError(source + ": 'fortran_order' is not True/False");
  if (shape->kind != HeaderValue::Tuple) throw FileError(source + ": 'shape' is not a tuple: " + printable(shape->text, 200));
  if (fortran->boolean)
    throw FileError(source + ": array is stored in Fortran (column-major) order, which is not supported; "
                             "save it with np.save(path, np.ascontiguousarray(a))");
  const auto dtype = dtype_from_descr(descr->str);
  if (!dtype)
    throw FileError(source + ": dtype '" + printable(descr->str, 200) + "' is not supported; accepted: " +
                    std::string(accepted_npy_dtypes()) + " (little-endian numbers)");

  NdArray a;
  a.dtype = *dtype;
  a.shape = shape->tuple;
  std::size_t n = 1;
  for (auto d : a.shape) {
    if (d != 0 && n > SIZE_MAX / d) throw FileError(source + ": shape " + shape_string(a.shape) + " overflows");
    n *= d;
  }
  const std::size_t item = dtype_size(a.dtype);
  if (n > SIZE_MAX / item) throw FileError(source + ": shape " + shape_string(a.shape) + " overflows");
  const std::size_t want = n * item;
  const std::size_t data_start = header_start + header_len;
  const std::size_t have = bytes.size() - data_start;
  if (have < want)
    throw FileError(source + ": expected " + std::to_string(want) + " bytes of " + descr->str + " data for shape " +
                    shape_string(a.shape) + ", found " + std::to_string(have) + " (file truncated?)");
  if (have > want)
    throw FileError(source + ": expected " + std::to_string(want) + " bytes of " + descr->str + " data for shape " +
                    shape_string(a.shape) + ", found " + std::to_string(have) + " (trailing bytes)");
  a.bytes.assign(bytes.data() + data_start, want);
  return a;
}

NdArray read_npy(const std::string& path) { return decode_npy(read_file(path), path); }

void write_npy(const std::string& path, const NdArray& a) { write_file_atomic(path, encode_npy(a)); }

}  // namespace tz
