// Tests of io/npz.cpp: .npz checkpoints round-trip bit-exactly (also through NumPy, both ways),
// refuse corrupt and hostile archives without allocating what they claim, and never leave a
// half-written file.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <xtensor/xbuilder.hpp>
#include <zlib.h>

#include "datasets/files.hpp"
#include "io/npz.hpp"
#include "tests/test_helpers.hpp"

namespace fs = std::filesystem;
using tz::test::contains;
using tz::test::file_error;
using tz::test::TempDir;

namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += digits[c >> 4], out += digits[c & 15];
  return out;
}

// The Debian python3 (which has numpy) first: `python3` on PATH may be another one without it.
// None: "", after a message that the calling test is skipped.
std::string python_with_numpy() {
  for (const std::string py : {"/usr/bin/python3", "python3"})
    if (std::system((py + " -c 'import numpy' > /dev/null 2>&1").c_str()) == 0) return py;
  MESSAGE("skipped: no python3 with numpy (apt-get install python3-numpy)");
  return {};
}

// Runs a command and returns its standard output; the command must succeed.
std::string run(const std::string& cmd) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  const int status = ::pclose(p);
  INFO("command: ", cmd, "\noutput: ", out);
  REQUIRE(status == 0);
  return out;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::pair<std::string, xt::xarray<float>>> small_model() {
  xt::xarray<float> w = xt::xarray<float>::from_shape({3, 4});
  std::iota(w.begin(), w.end(), -5.5f);
  w(0, 0) = -0.0f;
  w(2, 3) = 1e-45f;  // a denormal
  return {{"enc.l1.W", w}, {"enc.l1.b", xt::xarray<float>{0.1f, -0.2f, 3e38f}}, {"log_sigma", xt::xarray<float>(0.5f)}};
}

// ---- zip archives built by hand, whose directory can say what no real writer would -----------

struct ZipMember {
  std::string name;
  std::string data;             // the bytes as stored (already deflated for method 8)
  std::uint16_t method = 0;     // 0 stored, 8 deflated
  std::uint32_t crc = 0;        // of the uncompressed bytes
  std::uint64_t usize = 0;      // the uncompressed size the directory claims
  bool zip64 = false;           // sizes in a Zip64 extra field instead of the 32-bit fields
  std::size_t same_place_as = SIZE_MAX;  // an earlier member whose local header this one points at
};

void put_le(std::string& s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string make_zip(const std::vector<ZipMember>& members) {
  std::string out, central;
  std::vector<std::size_t> offsets;
  for (const ZipMember& m : members) {
    offsets.push_back(m.same_place_as == SIZE_MAX ? out.size() : offsets.at(m.same_place_as));
    if (m.same_place_as == SIZE_MAX) {
      put_le(out, 0x04034b50, 4);
      put_le(out, 20, 2), put_le(out, 0, 2), put_le(out, m.method, 2), put_le(out, 0, 4);
      put_le(out, m.crc, 4), put_le(out, m.data.size(), 4), put_le(out, m.usize, 4);
      put_le(out, m.name.size(), 2), put_le(out, 0, 2);
      out += m.name + m.data;
    }
    put_le(central, 0x02014b50, 4);
    put_le(central, 20, 2), put_le(central, 20, 2), put_le(central, 0, 2), put_le(central, m.method, 2);
    put_le(central, 0, 4), put_le(central, m.crc, 4);
    put_le(central, m.zip64 ? 0xffffffffu : m.data.size(), 4);
    put_le(central, m.zip64 ? 0xffffffffu : m.usize, 4);
    put_le(central, m.name.size(), 2), put_le(central, m.zip64 ? 20 : 0, 2), put_le(central, 0, 2);
    put_le(central, 0, 2), put_le(central, 0, 2), put_le(central, 0, 4), put_le(central, offsets.back(), 4);
    central += m.name;
    if (m.zip64) put_le(central, 1, 2), put_le(central, 16, 2), put_le(central, m.usize, 8), put_le(central, m.data.size(), 8);
  }
  const std::size_t cd_offset = out.size();
  out += central;
  put_le(out, 0x06054b50, 4), put_le(out, 0, 4);
  put_le(out, members.size(), 2), put_le(out, members.size(), 2);
  put_le(out, central.size(), 4), put_le(out, cd_offset, 4), put_le(out, 0, 2);
  return out;
}

// A raw deflate stream (zip method 8) of bytes, at zlib's best compression.
std::string raw_deflate(const std::string& bytes) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, bytes.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::uint32_t crc_of(const std::string& bytes) {
  return static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// A deflated .npz member holding a float64 array of n zeros.
ZipMember deflated_zeros(const std::string& name, std::size_t n) {
  const std::string npy = tz::encode_npy(tz::NdArray::from(xt::xarray<double>(xt::zeros<double>({n}))));
  return {name, raw_deflate(npy), 8, crc_of(npy), npy.size()};
}

}  // namespace

TEST_CASE("npz round-trips float32 and float64 arrays bit-exactly, in order") {
  TempDir dir;
  const auto model = small_model();
  const std::string p = dir / "ckpt.npz";
  tz::save_npz(p, model);
  const tz::NamedArrays back = tz::read_npz(p);
  REQUIRE(back.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(model[i].first);
    CHECK(back[i].first == model[i].first);
    const tz::NdArray want = tz::NdArray::from(model[i].second);
    CHECK(back[i].second.dtype == tz::DType::f4);
    CHECK(back[i].second.shape == want.shape);
    CHECK(back[i].second.bytes == want.bytes);
  }
  // Same arrays, same bytes (fixed time stamps, no extra fields).
  CHECK(tz::encode_npz(back) == tz::read_file(p));

  xt::xarray<double> d = {{0.1, -2.5e300}, {4.9e-324, std::nan("")}};
  tz::save_npz(dir / "d.npz", std::vector<std::pair<std::string, xt::xarray<double>>>{{"d", d}});
  const auto loaded = tz::load_npz(dir / "d.npz");
  REQUIRE(loaded.count("d") == 1);
  CHECK(loaded.at("d").dtype == tz::DType::f8);
  const xt::xarray<double> d2 = loaded.at("d").to_double();
  CHECK(std::memcmp(d2.data(), d.data(), 4 * sizeof(double)) == 0);

  CHECK_THROWS_AS(tz::encode_npz({{"a", tz::NdArray::from(d)}, {"a", tz::NdArray::from(d)}}), std::invalid_argument);
}

TEST_CASE("numpy.load opens our npz with the same bits") {
  const std::string py = python_with_numpy();
  if (py.empty()) return;
  TempDir dir;
  const auto model = small_model();
  tz::NamedArrays arrays;
  for (const auto& [name, x] : model) arrays.emplace_back(name, tz::NdArray::from(x));
  arrays.emplace_back("dec/out.b", tz::NdArray::from(xt::xarray<double>{0.1, -1e-310, 1.0 / 3.0}));
  arrays.emplace_back("σ²", tz::NdArray::from(xt::xarray<float>{2.0f}));  // a UTF-8 name
  const std::string p = dir / "ckpt.npz";
  tz::save_npz(p, arrays);
  write_text(dir / "read.py",
             "import sys, numpy as np\n"
             "sys.stdout.reconfigure(encoding='utf-8')\n"
             "z = np.load(sys.argv[1])\n"
             "for k in z.files:\n"
             "    a = z[k]\n"
             "    print(k + '|' + a.dtype.str + '|' + repr(a.shape) + '|' + a.tobytes().hex())\n");
  const std::string out = run(py + " " + (dir / "read.py") + " " + p);
  std::string want;
  for (const auto& [name, a] : arrays)
    want += name + "|" + std::string(tz::dtype_descr(a.dtype)) + "|" + tz::shape_string(a.shape, true) + "|" +
            hex(a.bytes) + "\n";
  CHECK(out == want);
}

TEST_CASE("npz files written by numpy (savez and savez_compressed) load with the same values") {
  const std::string py = python_with_numpy();
  if (py.empty()) return;
  TempDir dir;
  write_text(dir / "write.py",
             "import sys, numpy as np\n"
             "a = dict(w=np.arange(12, dtype=np.float32).reshape(3, 4) / 8,\n"
             "         b=np.array([0.1, -2.5e300]),\n"
             "         i=np.array([[1, -2], [3, 1 << 40]], dtype=np.int64),\n"
             "         big=np.linspace(0.0, 1.0, 100001))\n"
             "np.savez(sys.argv[1], **a)\n"
             "np.savez_compressed(sys.argv[2], **a)\n");
  run(py + " " + (dir / "write.py") + " " + (dir / "plain.npz") + " " + (dir / "packed.npz"));
  for (const std::string name : {"plain.npz", "packed.npz"}) {
    CAPTURE(name);
    const auto z = tz::load_npz(dir / name);
    REQUIRE(z.size() == 4);
    const xt::xarray<float> w = z.at("w").to_float();
    CHECK(z.at("w").dtype == tz::DType::f4);
    CHECK(w.shape(0) == 3);
    CHECK(w(2, 3) == 11.0f / 8.0f);
    CHECK(z.at("b").to_double() == xt::xarray<double>{0.1, -2.5e300});
    CHECK(z.at("i").dtype == tz::DType::i8);
    CHECK(z.at("i").to_double() == xt::xarray<double>{{1, -2}, {3, 1099511627776.0}});
    const xt::xarray<double> big = z.at("big").to_double();
    REQUIRE(big.size() == 100001);
    CHECK(big(50000) == 0.5);
    CHECK(big(100000) == 1.0);
  }
  // savez_compressed really deflated (the file is much smaller than the data).
  CHECK(fs::file_size(dir / "packed.npz") < fs::file_size(dir / "plain.npz") / 2);
}

TEST_CASE("corrupt and non-npz files are refused with the file named") {
  TempDir dir;
  const std::string p = dir / "m.npz";
  tz::save_npz(p, small_model());
  std::string bytes = tz::read_file(p);
  bytes[200] = static_cast<char>(bytes[200] ^ 0x40);  // inside enc.l1.W's data
  tz::write_file_atomic(dir / "flipped.npz", bytes);
  const std::string crc = file_error([&] { tz::load_npz(dir / "flipped.npz"); });
  CHECK(contains(crc, dir / "flipped.npz"));
  CHECK(contains(crc, "member 'enc.l1.W.npy': CRC-32 mismatch"));

  tz::write_file_atomic(dir / "cut.npz", tz::read_file(p).substr(0, 300));
  const std::string cut = file_error([&] { tz::load_npz(dir / "cut.npz"); });
  CHECK(contains(cut, dir / "cut.npz"));
  CHECK(contains(cut, "truncated"));

  // A directory entry claiming that 48 deflated bytes expand to 4 GiB is refused before allocating.
  std::string lie = tz::read_file(p);
  const std::size_t cd = lie.find("PK\x01\x02");
  REQUIRE(cd != std::string::npos);
  lie[cd + 10] = 8;                                 // method: deflate
  lie.replace(cd + 24, 4, "\xf0\xff\xff\xff");  // uncompressed size
  tz::write_file_atomic(dir / "lie.npz", lie);
  CHECK(contains(file_error([&] { tz::load_npz(dir / "lie.npz"); }), "more than deflate can produce"));

  tz::write_file_atomic(dir / "text.npz", "this is not a zip file at all");
  CHECK(contains(file_error([&] { tz::load_npz(dir / "text.npz"); }), "not an .npz file"));
}

TEST_CASE("npz: hand-built archives load, so the hostile ones below fail for their fault alone") {
  const ZipMember z = deflated_zeros("z.npy", 1000);
  const std::string plain = tz::encode_npy(tz::NdArray::from(xt::xarray<float>{1.5f, -2}));
  const ZipMember p{"p.npy", plain, 0, crc_of(plain), plain.size()};
  ZipMember z64 = deflated_zeros("z64.npy", 10);
  z64.zip64 = true;
  const tz::NamedArrays a = tz::decode_npz(make_zip({z, p, z64}), "ok.npz");
  REQUIRE(a.size() == 3);
  CHECK(a[0].first == "z");
  CHECK(a[0].second.to_double() == xt::zeros<double>({1000}));
  CHECK(a[1].second.to_float() == xt::xarray<float>{1.5f, -2});
  CHECK(a[2].second.shape == std::vector<std::size_t>{10});
}

TEST_CASE("npz: a zip bomb or a lying size is refused without allocating what it claims") {
  // Each claim below would cost gigabytes if trusted; the error is a FileError naming the file and
  // the member, not std::bad_alloc.
  ZipMember z = deflated_zeros("z.npy", 1000);
  const std::string csize = std::to_string(z.data.size());

  SUBCASE("a directory entry claiming 4 GiB from a few deflated bytes") {
    z.usize = 0xffffffffu;
    CHECK(file_error([&] { tz::decode_npz(make_zip({z}), "bomb.npz"); }) ==
          "bomb.npz: member 'z.npy': declares 4294967295 bytes from " + csize +
              " compressed ones, more than deflate can produce (file corrupt?)");
  }
  SUBCASE("a Zip64 extra field claiming 1 TiB") {
    z.usize = std::uint64_t{1} << 40;
    z.zip64 = true;
    CHECK(file_error([&] { tz::decode_npz(make_zip({z}), "z64.npz"); }) ==
          "z64.npz: member 'z.npy': declares 1099511627776 bytes from " + csize +
              " compressed ones, more than deflate can produce (file corrupt?)");
  }
  SUBCASE("a claim deflate could meet, which the data does not") {
    const std::uint64_t real = z.usize;
    z.usize = 1000 * z.data.size();  // within deflate's ratio, far more than the 8 KB inside
    CHECK(file_error([&] { tz::decode_npz(make_zip({z}), "short.npz"); }) ==
          "short.npz: member 'z.npy': compressed data inflates to " + std::to_string(real) + " bytes, expected " +
              std::to_string(z.usize));
  }
  SUBCASE("many directory entries pointing at one member (an overlapping zip bomb)") {
    // One deflated megabyte, named 1000 times: 1 GB to inflate and keep if each entry were read.
    std::vector<ZipMember> members{deflated_zeros("m0.npy", 1 << 17)};
    for (std::size_t i = 1; i < 1000; ++i) {
      ZipMember alias = members[0];
      alias.name = "m" + std::to_string(i) + ".npy";
      alias.same_place_as = 0;
      members.push_back(alias);
    }
    CHECK(file_error([&] { tz::decode_npz(make_zip(members), "overlap.npz"); }) ==
          "overlap.npz: members 'm0.npy' and 'm1.npy' share bytes in the file (a corrupt archive, or a zip bomb)");
  }
  SUBCASE("a central directory said to lie past the end of the file") {
    std::string bytes = make_zip({z});
    bytes.replace(bytes.size() - 6, 4, "\xf0\xff\xff\xff");  // its offset
    CHECK(file_error([&] { tz::decode_npz(bytes, "cd.npz"); }) ==
          "cd.npz: central directory lies outside the file (file truncated?)");
  }
  SUBCASE("a member's data said to run past the end of the file") {
    std::string bytes = make_zip({z});
    const std::size_t cd = bytes.find("PK\x01\x02");
    bytes.replace(cd + 20, 4, std::string("\0\0\0\x7f", 4));  // compressed size: 2 GiB
    CHECK(contains(file_error([&] { tz::decode_npz(bytes, "data.npz"); }),
                   "data.npz: a member's data runs past the end of the file"));
  }
}

TEST_CASE("a failed save leaves no file and no temporary file, and keeps the previous checkpoint") {
  TempDir dir;
  SUBCASE("into a folder that does not exist") {
    const std::string p = dir / "missing/ckpt.npz";
    const std::string msg = file_error([&] { tz::save_npz(p, small_model()); });
    CHECK(contains(msg, p));
    CHECK(!fs::exists(dir / "missing"));
    CHECK(dir.files().empty());
  }
  SUBCASE("the disk fills up in the middle of the write") {
    const std::string p = dir / "ckpt.npz";
    tz::save_npz(p, small_model());
    const std::string before = tz::read_file(p);
    // RLIMIT_FSIZE makes write(2) fail with EFBIG past 4 KiB, as a full disk would.
    xt::xarray<float> big = xt::zeros<float>({100, 100});
    struct rlimit old;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
      tz::save_npz(p, std::vector<std::pair<std::string, xt::xarray<float>>>{{"big", big}});
    } catch (const tz::FileError& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    CHECK(contains(msg, p + ": write error"));
    CHECK(tz::read_file(p) == before);
    CHECK(dir.files() == std::vector<std::string>{"ckpt.npz"});
  }
  SUBCASE("an exception between opening and committing") {
    const std::string p = dir / "ckpt.npz";
    tz::save_npz(p, small_model());
    const std::string before = tz::read_file(p);
    try {
      tz::AtomicFile f(p);
      f.write(tz::encode_npz({}));
      throw std::runtime_error("simulated failure while writing");
    } catch (const std::runtime_error&) {
    }
    CHECK(tz::read_file(p) == before);
    CHECK(dir.files() == std::vector<std::string>{"ckpt.npz"});
  }
}

TEST_CASE("load_npz_into checks names and shapes and changes nothing unless all match") {
  TempDir dir;
  const std::string p = dir / "x.npz";
  tz::save_npz(p, std::vector<std::pair<std::string, xt::xarray<float>>>{
                      {"dec.l3.b", xt::zeros<float>({784})}, {"foo", xt::ones<float>({1})}, {"enc.l2.W", xt::ones<float>({2, 2})}});
  xt::xarray<float> w1 = xt::zeros<float>({2, 3}), b3 = xt::zeros<float>({300}), w2 = xt::zeros<float>({2, 2});
  const std::string msg = file_error([&] { tz::load_npz_into(p, {{"enc.l1.W", &w1}, {"dec.l3.b", &b3}, {"enc.l2.W", &w2}}); });
  CHECK(msg == "checkpoint " + p +
                   ": missing 'enc.l1.W'; unexpected 'foo'; 'dec.l3.b' has shape [784] in the file but [300] in the model");
  CHECK(w2 == xt::zeros<float>({2, 2}));  // untouched

  // Matching names and shapes: float32 copies exactly, float64 rounds to float.
  const auto model = small_model();
  tz::save_npz(p, model);
  std::vector<std::pair<std::string, xt::xarray<float>>> target = {
      {"log_sigma", xt::xarray<float>(0.0f)}, {"enc.l1.W", xt::zeros<float>({3, 4})}, {"enc.l1.b", xt::zeros<float>({3})}};
  tz::load_npz_into(p, target);
  CHECK(target[0].second == model[2].second);
  CHECK(target[1].second == model[0].second);
  CHECK(target[2].second == model[1].second);
  tz::save_npz(p, std::vector<std::pair<std::string, xt::xarray<double>>>{{"v", xt::xarray<double>{0.1, 1e300}}});
  xt::xarray<float> v = xt::zeros<float>({2});
  tz::load_npz_into(p, {{"v", &v}});
  CHECK(v(0) == 0.1f);
  CHECK(v(1) == INFINITY);
}
