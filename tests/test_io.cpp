// Tests for io/: .npz checkpoints (also against NumPy), PNG and grids, plots, progress bar,
// metrics.csv and JSON lines.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdint>
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
#include "io/json.hpp"
#include "io/metrics.hpp"
#include "io/npz.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "io/progress.hpp"
#include "autograd/random.hpp"
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

// ---- .npz --------------------------------------------------------------------------------------

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

// ---- PNG and grids -----------------------------------------------------------------------------

TEST_CASE("make_grid places images as torchvision does, with padding of the pad value") {
  // 5 images of 3 x 4, 2 per row: C = 2 columns, R = 3 rows, cells 5 high and 6 wide.
  const std::size_t n = 5, h = 3, w = 4;
  xt::xarray<float> x = xt::xarray<float>::from_shape({n, h * w});
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t i = 0; i < h * w; ++i) x(k, i) = static_cast<float>(k * 12 + i + 1) / 255.0f;
  x(4, 11) = 7.0f;   // clipped to 1
  x(4, 10) = -1.0f;  // clipped to 0
  TempDir dir;
  const std::string p = dir / "grid.png";
  tz::GridOptions opt;
  opt.nrow = 2, opt.padding = 2, opt.pad_value = 0.5f, opt.image_height = 3, opt.image_width = 4;
  tz::save_image_grid(p, x, opt);
  const tz::Image g = tz::read_png(p);
  CHECK(g.channels == 1);
  CHECK(g.width == 2 * (4 + 2) + 2);
  CHECK(g.height == 3 * (3 + 2) + 2);
  for (std::size_t k = 0; k < n; ++k) {
    CAPTURE(k);
    const std::size_t y0 = (k / 2) * 5 + 2, x0 = (k % 2) * 6 + 2;
    CHECK(*g.at(x0, y0) == k * 12 + 1);                 // top-left pixel
    CHECK(*g.at(x0 + 1, y0 + 2) == k * 12 + 2 * 4 + 2);  // row 2, column 1
    CHECK(*g.at(x0 - 1, y0) == 128);                     // padding to its left
    CHECK(*g.at(x0, y0 - 1) == 128);                     // and above
  }
  // Image 4 sits at x0 = 2, y0 = 12; its pixel 10 (-1.0) is clipped to 0 and pixel 11 (7.0) to 255.
  CHECK(*g.at(2 + 2, 12 + 2) == 0);
  CHECK(*g.at(2 + 3, 12 + 2) == 255);
  // The sixth cell is empty: all pad value.
  for (std::size_t y = 12; y < 15; ++y)
    for (std::size_t xx = 8; xx < 12; ++xx) CHECK(*g.at(xx, y) == 128);
  CHECK(*g.at(0, 0) == 128);
  CHECK(*g.at(g.width - 1, g.height - 1) == 128);
}

TEST_CASE("RGB grids, PNG round trips and unreadable files") {
  xt::xarray<float> rgb = xt::zeros<float>({2, 2, 3, 3});  // [N, H, W, 3]: two 2 x 3 RGB images
  rgb(0, 0, 0, 0) = 1.0f;                                   // image 0, top-left: red
  rgb(1, 1, 2, 2) = 1.0f;                                   // image 1, bottom-right: blue
  tz::GridOptions opt;
  opt.padding = 1, opt.pad_value = 1.0f;
  const tz::Image g = tz::make_grid(rgb, opt);
  CHECK(g.channels == 3);
  CHECK(g.width == 2 * 4 + 1);
  CHECK(g.height == 2 + 2);
  CHECK(g.rgb(1, 1) == tz::Rgb{255, 0, 0});
  CHECK(g.rgb(5 + 2, 1 + 1) == tz::Rgb{0, 0, 255});
  CHECK(g.rgb(0, 0) == tz::Rgb{255, 255, 255});

  TempDir dir;
  for (std::size_t c : {1, 3, 4}) {
    CAPTURE(c);
    tz::Image im(7, 5, c);
    for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<std::uint8_t>(i * 31);
    tz::write_png(dir / "x.png", im);
    const tz::Image back = tz::read_png(dir / "x.png");
    CHECK(back.width == 7);
    CHECK(back.height == 5);
    CHECK(back.channels == c);
    CHECK(back.pixels == im.pixels);
  }
  tz::write_file_atomic(dir / "bad.png", "\x89PNG but not really");
  CHECK(contains(file_error([&] { tz::read_png(dir / "bad.png"); }), dir / "bad.png"));
  CHECK_THROWS_AS(tz::make_grid(xt::zeros<float>({2, 10})), std::invalid_argument);  // 10 is not square
}

// ---- plots -------------------------------------------------------------------------------------

namespace {

std::size_t count_color(const tz::Image& im, tz::Rgb c, std::size_t x0, std::size_t y0, std::size_t x1, std::size_t y1) {
  std::size_t n = 0;
  for (std::size_t y = y0; y < y1; ++y)
    for (std::size_t x = x0; x < x1; ++x) n += im.rgb(x, y) == c;
  return n;
}

}  // namespace

TEST_CASE("nice ticks and their labels") {
  CHECK(tz::nice_ticks(0, 1, 6) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
  const auto t = tz::nice_ticks(-3.2, 97.31, 7);
  CHECK(t == std::vector<double>{-20, 0, 20, 40, 60, 80, 100});
  CHECK(tz::nice_ticks(-3.2, 97.31, 6) == std::vector<double>{-50, 0, 50, 100});
  const auto small = tz::nice_ticks(0.013, 0.0171, 5);  // step 0.001 would need 6 ticks: 0.002
  REQUIRE(small.size() == 4);
  CHECK(small.front() == doctest::Approx(0.012).epsilon(1e-12));
  CHECK(small.back() == doctest::Approx(0.018).epsilon(1e-12));
  CHECK(tz::nice_ticks(5, 5, 6).size() >= 2);  // a flat range is widened
  CHECK(tz::tick_label(0.25, 0.05) == "0.25");
  CHECK(tz::tick_label(1500, 500) == "1500");
  CHECK(tz::tick_label(2e-5, 1e-5) == "2e-5");
  CHECK(tz::tick_label(3e6, 1e6) == "3e6");
  CHECK(tz::tick_label(-1e-17, 0.1) == "0.0");
  CHECK(tz::tick_label(0.6000000000000001, 0.2) == "0.6");
}

TEST_CASE("a line plot decodes with its size, its series colours in the plot area and a title") {
  TempDir dir;
  std::vector<double> x, train, test;
  for (int i = 1; i <= 200; ++i) {
    x.push_back(i * 50);
    train.push_back(200.0 / std::sqrt(i) + 90);
    test.push_back(i % 10 == 0 ? 210.0 / std::sqrt(i) + 95 : std::nan(""));  // sparse, with gaps
  }
  const tz::Rgb red{214, 39, 40};
  const std::string p = dir / "curves.png";
  tz::LinePlotOptions opt;
  opt.title = "VAE on MNIST", opt.xlabel = "iteration", opt.ylabel = "-ELBO (nats)";
  tz::save_line_plot(p, {{"train", x, train, {}}, {"test", x, test, red}}, opt);
  const tz::Image im = tz::read_png(p);
  CHECK(im.width == 640);
  CHECK(im.height == 400);
  CHECK(im.channels == 3);
  // Plot area roughly [60, 620] x [40, 360]: both series colours appear there in full strength.
  const tz::Rgb blue = tz::palette_color(0);
  CHECK(count_color(im, blue, 60, 40, 620, 360) > 200);
  CHECK(count_color(im, red, 60, 40, 620, 360) > 100);
  // The background is white; the title is dark text in the top band.
  CHECK(im.rgb(2, 2) == tz::Rgb{255, 255, 255});
  CHECK(count_color(im, tz::Rgb{40, 40, 40}, 200, 0, 440, 30) > 50);

  tz::LinePlotOptions lg;
  lg.log_x = true;
  const tz::Image logp = tz::plot_lines({{"loss", x, train, {}}}, lg);
  CHECK(count_color(logp, blue, 40, 10, 620, 380) > 200);
  CHECK_THROWS_AS(tz::plot_lines({{"bad", {1, 2}, {1}, {}}}), std::invalid_argument);
}

TEST_CASE("a scatter plot shows points in their colours and covariance ellipses") {
  tz::Rng rng(0);
  xt::xtensor<double, 2> pts = xt::xtensor<double, 2>::from_shape({400, 2});
  std::vector<int> labels(400);
  for (std::size_t i = 0; i < 400; ++i) {
    labels[i] = static_cast<int>(i % 2);
    pts(i, 0) = (labels[i] ? 3.0 : -3.0) + rng.normal();
    pts(i, 1) = 0.5 * rng.normal();
  }
  const tz::Rgb black{0, 0, 0}, green = tz::palette_color(2);
  const tz::Image im = tz::plot_scatter(pts, tz::label_colors(labels),
                                        {{-3, 0, 1, 0, 0.25, green}, {3, 0, 1, 0.2, 0.25, green}});
  CHECK(im.width == 560);
  CHECK(im.height == 560);
  CHECK(count_color(im, tz::palette_color(0), 0, 0, 560, 560) > 300);
  CHECK(count_color(im, tz::palette_color(1), 0, 0, 560, 560) > 300);
  CHECK(count_color(im, green, 0, 0, 560, 560) > 200);
  CHECK(count_color(im, black, 0, 0, 560, 560) > 10);  // the crosses at the means
  // Responsibilities blend palette colours.
  const auto mixed = tz::responsibility_colors(xt::xtensor<double, 2>{{1, 0}, {0.5, 0.5}});
  CHECK(mixed[0] == tz::palette_color(0));
  CHECK(mixed[1] == tz::Rgb{143, 123, 97});  // halfway between blue (31,119,180) and orange (255,127,14)
}

// ---- progress, metrics, JSON -------------------------------------------------------------------

TEST_CASE("the progress bar is silent off a terminal, and rate-limited when drawing") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    tz::ProgressBar off(100, {.label = "x", .out = f});
    CHECK(!off.enabled());  // a file is not a terminal
    tz::ProgressBar quiet(100, {.quiet = true, .out = f, .force = true});
    CHECK(!quiet.enabled());
    for (std::size_t i = 1; i <= 100; ++i) off.update(i, 1.0);
  }
  CHECK(std::ftell(f) == 0);

  {
    tz::ProgressBar bar(100000, {.label = "train", .out = f, .force = true});
    CHECK(bar.enabled());
    for (std::size_t i = 1; i <= 100000; ++i) bar.update(i, 97.31);
    CHECK(bar.redraws() >= 1);
    CHECK(bar.redraws() <= 3);  // 100,000 updates in far less than 0.3 s
    bar.finish();
  }
  std::rewind(f);
  std::string out;
  char buf[512];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
  std::fclose(f);
  CHECK(contains(out, "\rtrain ["));
  CHECK(contains(out, "100%  100000/100000"));
  CHECK(contains(out, "it/s"));
  CHECK(contains(out, "loss 97.31"));
  CHECK(out.back() == '\n');

  CHECK(tz::ProgressBar::format("train", 38, 100, 2.0, 97.31, 10) ==
        "train [###.......]  38%  38/100  19 it/s  ETA 0:03  loss 97.31");
  CHECK(tz::ProgressBar::format("", 7, 0, 0.5, std::nan(""), 10) == "7  14 it/s");
}

TEST_CASE("metrics.csv: header, one flushed row per step, shortest round-trip numbers") {
  TempDir dir;
  const std::string p = dir / "metrics.csv";
  tz::MetricsCsv log(p, {"loss", "kl", "rec"});
  log.write(100, {97.31, 0.1, 1.0 / 3.0}, 3.25);
  CHECK(tz::read_file(p) == "iteration,loss,kl,rec,seconds\n100,97.31,0.1,0.3333333333333333,3.250\n");  // flushed
  log.write(200, {std::nan(""), -1e-8, 72}, 7.0);
  CHECK(tz::read_file(p) ==
        "iteration,loss,kl,rec,seconds\n100,97.31,0.1,0.3333333333333333,3.250\n200,nan,-1e-08,72,7.000\n");
  CHECK_THROWS_AS(log.write(300, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(tz::MetricsCsv(dir / "y.csv", {"a,b"}), std::invalid_argument);
  CHECK(contains(file_error([&] { tz::MetricsCsv(dir / "no/dir/m.csv", {"a"}); }), dir / "no/dir/m.csv"));
}

TEST_CASE("JSON lines: ordered keys, shortest numbers, escaped strings") {
  tz::JsonLine j;
  j.add("model", "vae").add("epoch", 10).add("test_elbo", -97.3125).add("lr", 0.1f).add("converged", true);
  j.add("note", std::string("say \"hi\"\\\n\x01")).add("nan", std::nan("")).add("steps", std::size_t{60000});
  j.add("curve", std::vector<double>{1.5, 0.1});
  CHECK(j.str() ==
        "{\"model\": \"vae\", \"epoch\": 10, \"test_elbo\": -97.3125, \"lr\": 0.1, \"converged\": true, "
        "\"note\": \"say \\\"hi\\\"\\\\\\n\\u0001\", \"nan\": null, \"steps\": 60000, \"curve\": [1.5, 0.1]}");
  CHECK_THROWS_AS(j.add("epoch", 11), std::invalid_argument);
  CHECK(tz::json_number(1e300) == "1e+300");
  CHECK(tz::json_number(0.1 + 0.2) == "0.30000000000000004");
}
