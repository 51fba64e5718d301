// tapezoo: .npz checkpoints (see npz.hpp). The zip layout follows PKWARE's APPNOTE.TXT:
//   [local file header + name + data] per member, then the central directory (one header per
//   member), then the end-of-central-directory record.
#include "io/npz.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <set>

#include <zlib.h>

#include "datasets/files.hpp"

namespace tz {

namespace {

constexpr std::uint32_t sig_local = 0x04034b50;
constexpr std::uint32_t sig_central = 0x02014b50;
constexpr std::uint32_t sig_eocd = 0x06054b50;
constexpr std::uint32_t sig_zip64_eocd = 0x06064b50;
constexpr std::uint32_t sig_zip64_locator = 0x07064b50;
constexpr std::uint16_t dos_date_1980_01_01 = (0 << 9) | (1 << 5) | 1;

void put16(std::string& s, std::uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}

std::uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t off = 0;
  while (off < bytes.size()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size() - off, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + off), static_cast<uInt>(chunk));
    off += chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

// Bounds-checked little-endian reads from the archive; errors name the file.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}
  void need(std::size_t off, std::size_t n, const char* what) const {
    if (off > b_.size() || n > b_.size() - off)
      throw FileError(source_ + ": " + what + " runs past the end of the file (" + std::to_string(b_.size()) +
                      " bytes; file truncated?)");
  }
  std::uint16_t u16(std::size_t off) const {
    need(off, 2, "a zip record");
    return static_cast<std::uint16_t>(static_cast<unsigned char>(b_[off]) |
                                      (static_cast<unsigned char>(b_[off + 1]) << 8));
  }
  std::uint32_t u32(std::size_t off) const { return u16(off) | (std::uint32_t{u16(off + 2)} << 16); }
  std::uint64_t u64(std::size_t off) const { return u32(off) | (std::uint64_t{u32(off + 4)} << 32); }
  std::string_view slice(std::size_t off, std::size_t n, const char* what) const {
    need(off, n, what);
    return b_.substr(off, n);
  }
  std::size_t size() const { return b_.size(); }

 private:
  std::string_view b_;
  const std::string& source_;
};

// The bytes each member occupies, from its local header to the end of its data. Members must not
// share bytes: a zip bomb points many directory entries at one highly compressed member, so that
// a small file inflates to gigabytes (and costs as much memory, since every array is kept).
// Without overlaps, each byte of the file is inflated at most once.
class MemberSpans {
 public:
  void add(std::size_t begin, std::size_t end, const std::string& name, const std::string& source) {
    auto next = spans_.lower_bound(begin);
    if (next != spans_.end() && next->first < end) overlap(name, next->second.second, source);
    if (next != spans_.begin()) {
      const auto prev = std::prev(next);
      if (prev->second.first > begin) overlap(name, prev->second.second, source);
    }
    spans_.emplace(begin, std::make_pair(end, name));
  }

 private:
  [[noreturn]] static void overlap(const std::string& name, const std::string& other, const std::string& source) {
    throw FileError(source + ": members '" + other + "' and '" + name +
                    "' share bytes in the file (a corrupt archive, or a zip bomb)");
  }
  std::map<std::size_t, std::pair<std::size_t, std::string>> spans_;  // begin -> (end, name)
};

}  // namespace

std::string encode_npz(const NamedArrays& arrays) {
  std::set<std::string> seen;
  for (const auto& [name, a] : arrays) {
    if (name.empty()) throw std::invalid_argument("save_npz: an array has an empty name");
    if (!seen.insert(name).second) throw std::invalid_argument("save_npz: the name '" + name + "' appears twice");
  }
  if (arrays.size() >= 0xffff) throw std::invalid_argument("save_npz: too many arrays for a zip without Zip64");

  std::string out, central;
  for (const auto& [name, a] : arrays) {
    const std::string member = name + ".npy";
    const std::string data = encode_npy(a);
    const std::uint32_t crc = crc32_of(data);
    if (data.size() >= 0xffffffffu || out.size() >= 0xffffffffu)
      throw std::invalid_argument("save_npz: archive would exceed 4 GiB (Zip64 is not written)");
    const auto offset = static_cast<std::uint32_t>(out.size());
    const auto size = static_cast<std::uint32_t>(data.size());
    // Bit 11: the name is UTF-8 (without it, Python's zipfile reads non-ASCII names as cp437).
    const bool ascii = std::all_of(member.begin(), member.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    const std::uint32_t flags = ascii ? 0 : 0x0800;

    put32(out, sig_local);
    put16(out, 20);     // version needed: 2.0
    put16(out, flags);
    put16(out, 0);      // method: stored
    put16(out, 0);   // time 00:00:00
    put16(out, dos_date_1980_01_01);
    put32(out, crc);
    put32(out, size);  // compressed size
    put32(out, size);  // uncompressed size
    put16(out, static_cast<std::uint32_t>(member.size()));
    put16(out, 0);  // extra field length
    out += member;
    out += data;

    put32(central, sig_central);
    put16(central, (3 << 8) | 20);  // made by: Unix, 2.0
    put16(central, 20);
    put16(central, flags);
    put16(central, 0);  // method: stored
    put16(central, 0);  // time
    put16(central, dos_date_1980_01_01);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, static_cast<std::uint32_t>(member.size()));
    put16(central, 0);                 // extra
    put16(central, 0);                 // comment
    put16(central, 0);                 // disk
    put16(central, 0);                 // internal attributes
    put32(central, 0100644u << 16);    // external attributes: a regular file, rw-r--r--
    put32(central, offset);
    central += member;
  }
  if (out.size() + central.size() >= 0xffffffffu)
    throw std::invalid_argument("save_npz: archive would exceed 4 GiB (Zip64 is not written)");
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, sig_eocd);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(arrays.size()));
  put16(out, static_cast<std::uint32_t>(arrays.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);  // comment length
  return out;
}

namespace {

// Where the central directory lies, and how many entries it has.
struct Directory {
  std::uint64_t count = 0, size = 0, offset = 0;
};

// From the end-of-central-directory record (22 bytes plus a comment of up to 65535 bytes, so it is
// searched for backwards from the end), or from its Zip64 twin when a field is 0xffff(ffff).
Directory find_directory(const Reader& r, const std::string& source) {
  const std::size_t n = r.size();
  std::size_t eocd = std::string_view::npos;
  const std::size_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
  for (std::size_t off = n - 22 + 1; off-- > lowest;)
    if (r.u32(off) == sig_eocd) {
      eocd = off;
      break;
    }
  if (eocd == std::string_view::npos)
    throw FileError(source + ": zip end-of-central-directory record not found (file truncated?)");
  Directory d{r.u16(eocd + 10), r.u32(eocd + 12), r.u32(eocd + 16)};
  if ((d.count == 0xffff || d.size == 0xffffffffu || d.offset == 0xffffffffu) && eocd >= 20 &&
      r.u32(eocd - 20) == sig_zip64_locator) {
    const std::uint64_t z64 = r.u64(eocd - 20 + 8);
    if (z64 > n || r.u32(static_cast<std::size_t>(z64)) != sig_zip64_eocd)
      throw FileError(source + ": broken Zip64 end-of-central-directory record");
    d = {r.u64(static_cast<std::size_t>(z64) + 32), r.u64(static_cast<std::size_t>(z64) + 40),
         r.u64(static_cast<std::size_t>(z64) + 48)};
  }
  if (d.offset > n || d.size > n - d.offset)
    throw FileError(source + ": central directory lies outside the file (file truncated?)");
  return d;
}

// One central-directory entry, with the fields it moved to a Zip64 extra field put back.
struct Entry {
  std::string name;
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t csize = 0, usize = 0, local = 0;  // compressed and uncompressed size; local header
};

// Entry i of the directory, at p; p moves on to the next one.
Entry read_entry(const Reader& r, std::size_t& p, std::uint64_t i, const std::string& source) {
  if (r.u32(p) != sig_central) throw FileError(source + ": corrupt zip central directory (entry " + std::to_string(i) + ")");
  Entry m;
  m.flags = r.u16(p + 8);
  m.method = r.u16(p + 10);
  m.crc = r.u32(p + 16);
  m.csize = r.u32(p + 20);
  m.usize = r.u32(p + 24);
  const std::uint16_t name_len = r.u16(p + 28);
  const std::uint16_t extra_len = r.u16(p + 30);
  const std::uint16_t comment_len = r.u16(p + 32);
  m.local = r.u32(p + 42);
  m.name = std::string(r.slice(p + 46, name_len, "a member name"));
  // Zip64 extended information (header id 1): the 64-bit values of the fields set to 0xffffffff.
  std::size_t e = p + 46 + name_len;
  const std::size_t e_end = e + extra_len;
  while (e + 4 <= e_end) {
    const std::uint16_t id = r.u16(e), len = r.u16(e + 2);
    if (id == 1) {
      std::size_t q = e + 4;
      if (m.usize == 0xffffffffu) m.usize = r.u64(q), q += 8;
      if (m.csize == 0xffffffffu) m.csize = r.u64(q), q += 8;
      if (m.local == 0xffffffffu) m.local = r.u64(q), q += 8;
    }
    e += 4 + len;
  }
  p = e_end + comment_len;
  return m;
}

// The member's array: its data found through its local header, inflated if deflated, checked
// against its CRC-32, then parsed as .npy. `what` names the member in errors.
NdArray read_member(const Reader& r, const Entry& m, MemberSpans& spans, const std::string& source,
                    const std::string& what) {
  const auto local = static_cast<std::size_t>(m.local);
  if (r.u32(local) != sig_local)
    throw FileError(source + ": member '" + m.name + "': local header not found where the directory says");
  const std::size_t data_off = local + 30 + r.u16(local + 26) + r.u16(local + 28);
  const std::string_view stored = r.slice(data_off, static_cast<std::size_t>(m.csize), "a member's data");
  spans.add(local, data_off + stored.size(), m.name, source);
  std::string inflated;
  std::string_view data = stored;
  if (m.method == 8) {
    // Deflate expands at most about 1032:1; a larger claim is a corrupt header, not a reason to
    // allocate that much.
    if (m.usize > 1100 * m.csize + 1024)
      throw FileError(what + ": declares " + std::to_string(m.usize) + " bytes from " + std::to_string(m.csize) +
                      " compressed ones, more than deflate can produce (file corrupt?)");
    inflated = inflate_raw(stored, static_cast<std::size_t>(m.usize), what);
    data = inflated;
  } else if (m.csize != m.usize) {
    throw FileError(what + ": stored sizes disagree (" + std::to_string(m.csize) + " vs " + std::to_string(m.usize) +
                    ")");
  }
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  if (crc32_of(data) != m.crc) throw FileError(what + ": CRC-32 mismatch (file corrupt)");
#else
  // The fuzz build (tests/fuzz/) skips the CRC, by libFuzzer's convention for checksums: a
  // mutated member almost never keeps its CRC, so the .npy parser inside would go unexplored.
#endif
  return decode_npy(data, what);
}

}  // namespace

NamedArrays decode_npz(std::string_view bytes, const std::string& source) {
  const Reader r(bytes, source);
  if (bytes.size() < 22 || (r.u32(0) != sig_local && r.u32(0) != sig_eocd))
    throw FileError(source + ": not an .npz file (expected a zip archive, which starts with \"PK\\3\\4\")");
  const Directory dir = find_directory(r, source);
  NamedArrays out;
  std::set<std::string> seen;
  MemberSpans spans;
  std::size_t p = static_cast<std::size_t>(dir.offset);
  for (std::uint64_t i = 0; i < dir.count; ++i) {
    const Entry m = read_entry(r, p, i, source);
    if (m.flags & 1) throw FileError(source + ": member '" + m.name + "' is encrypted");
    if (m.method != 0 && m.method != 8)
      throw FileError(source + ": member '" + m.name + "' uses zip compression method " + std::to_string(m.method) +
                      "; expected 0 (stored, np.savez) or 8 (deflate, np.savez_compressed)");
    if (!ends_with(m.name, ".npy"))
      throw FileError(source + ": member '" + m.name + "' is not a .npy array (expected every member to end in .npy)");
    const std::string key = m.name.substr(0, m.name.size() - 4);
    if (!seen.insert(key).second) throw FileError(source + ": the array '" + key + "' appears twice");
    out.emplace_back(key, read_member(r, m, spans, source, source + ": member '" + m.name + "'"));
  }
  return out;
}

void save_npz(const std::string& path, const NamedArrays& arrays) { write_file_atomic(path, encode_npz(arrays)); }

void save_npz(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<float>>>& arrays) {
  NamedArrays a;
  a.reserve(arrays.size());
  for (const auto& [name, x] : arrays) a.emplace_back(name, NdArray::from(x));
  save_npz(path, a);
}

void save_npz(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<double>>>& arrays) {
  NamedArrays a;
  a.reserve(arrays.size());
  for (const auto& [name, x] : arrays) a.emplace_back(name, NdArray::from(x));
  save_npz(path, a);
}

NamedArrays read_npz(const std::string& path) { return decode_npz(read_file(path), path); }

std::map<std::string, NdArray> load_npz(const std::string& path) {
  std::map<std::string, NdArray> out;
  for (auto& [name, a] : read_npz(path)) out.emplace(name, std::move(a));
  return out;
}

void load_npz_into(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<float>*>>& params) {
  const std::map<std::string, NdArray> file = load_npz(path);
  // Reported in this order: names the model wants but the file lacks, names the file has but the
  // model lacks, then arrays whose shape or dtype differ.
  std::vector<std::string> missing, unexpected, different;
  std::set<std::string> wanted;
  for (const auto& [name, x] : params) {
    if (!wanted.insert(name).second) throw std::invalid_argument("load_npz_into: the name '" + name + "' appears twice");
    const auto it = file.find(name);
    if (it == file.end()) {
      missing.push_back("missing '" + name + "'");
      continue;
    }
    const NdArray& a = it->second;
    const std::vector<std::size_t> model_shape(x->shape().begin(), x->shape().end());
    if (a.shape != model_shape)
      different.push_back("'" + name + "' has shape " + shape_string(a.shape) + " in the file but " +
                          shape_string(model_shape) + " in the model");
    else if (a.dtype != DType::f4 && a.dtype != DType::f8)
      different.push_back("'" + name + "' has dtype " + std::string(dtype_descr(a.dtype)) +
                          " in the file; expected '<f4' or '<f8'");
  }
  for (const auto& [name, a] : file)
    if (!wanted.count(name)) unexpected.push_back("unexpected '" + name + "'");
  std::vector<std::string> problems = missing;
  problems.insert(problems.end(), unexpected.begin(), unexpected.end());
  problems.insert(problems.end(), different.begin(), different.end());
  if (!problems.empty()) {
    std::string msg = "checkpoint " + path + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw FileError(msg);
  }
  for (const auto& [name, x] : params) {
    const NdArray& a = file.at(name);
    if (a.dtype == DType::f4) std::memcpy(x->data(), a.bytes.data(), a.bytes.size());
    else {
      const xt::xarray<float> v = a.to_float();
      std::copy(v.begin(), v.end(), x->begin());
    }
  }
}

void load_npz_into(const std::string& path, std::vector<std::pair<std::string, xt::xarray<float>>>& params) {
  std::vector<std::pair<std::string, xt::xarray<float>*>> refs;
  refs.reserve(params.size());
  for (auto& [name, x] : params) refs.emplace_back(name, &x);
  load_npz_into(path, refs);
}

}  // namespace tz
