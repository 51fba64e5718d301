// Tests of datasets/idx.cpp: IDX images and labels, plain and gzip, from files and from memory,
// and the errors of truncated, mislabelled and lying files.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "datasets/idx.hpp"
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir, write_raw, test_images

TEST_CASE("IDX images and labels round-trip, plain and gzip") {
  TempDir dir;
  const tz::IdxImages im = test_images(7, 5, 3);
  const std::vector<std::uint8_t> labels = {0, 9, 3, 3, 255, 1, 7};
  for (const std::string suffix : {"", ".gz"}) {
    CAPTURE(suffix);
    const std::string ip = dir / ("imgs" + suffix), lp = dir / ("labels" + suffix);
    tz::write_idx_images(ip, im);
    tz::write_idx_labels(lp, labels);
    const std::string raw = tz::read_file(ip);
    if (suffix == ".gz") {
      CHECK(static_cast<unsigned char>(raw[0]) == 0x1f);  // gzip magic
      CHECK(static_cast<unsigned char>(raw[1]) == 0x8b);
    } else {
      CHECK(raw.size() == 16 + 7 * 5 * 3);
      CHECK(raw.substr(0, 8) == std::string("\0\0\x08\x03\0\0\0\x07", 8));
    }
    const tz::IdxImages back = tz::read_idx_images(ip);
    CHECK(back.count == 7);
    CHECK(back.rows == 5);
    CHECK(back.cols == 3);
    CHECK(back.pixels == im.pixels);
    CHECK(tz::read_idx_labels(lp) == labels);
  }
}

TEST_CASE("a truncated IDX file names the file and the missing bytes") {
  TempDir dir;
  const tz::IdxImages im = test_images(4, 28, 28);
  const std::string full = dir / "full";
  tz::write_idx_images(full, im);
  const std::string bytes = tz::read_file(full);

  SUBCASE("plain file cut in the pixel data") {
    const std::string p = dir / "train-images-idx3-ubyte";
    write_raw(p, bytes.substr(0, 16 + 1200));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3136 bytes of pixel data after the header, found 1200 (file truncated?)"));
  }
  SUBCASE("valid gzip stream of a short file") {
    const std::string p = dir / "train-images-idx3-ubyte.gz";
    write_raw(p, tz::gzip_compress(bytes.substr(0, 16 + 100)));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3136 bytes of pixel data after the header, found 100"));
  }
  SUBCASE("gzip file cut mid-stream") {
    const std::string p = dir / "cut.gz";
    const std::string gz = tz::gzip_compress(bytes);
    write_raw(p, gz.substr(0, gz.size() / 2));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "truncated"));
  }
  SUBCASE("header cut short") {
    const std::string p = dir / "short";
    write_raw(p, bytes.substr(0, 10));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3 dimensions"));
  }
  SUBCASE("a corrupt header declaring 4 billion images") {
    const std::string p = dir / "huge";
    write_raw(p, std::string("\0\0\x08\x03\xff\xff\xff\xff\0\0\0\x1c\0\0\0\x1c", 16) + "abc");
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p + ": expected 3367254359280 bytes of pixel data after the header, found 3 (file truncated?)"));
  }
  SUBCASE("trailing bytes") {
    const std::string p = dir / "long";
    write_raw(p, bytes + "xyz");
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "trailing bytes"));
  }
}

TEST_CASE("IDX with the wrong magic number says what it expected") {
  TempDir dir;
  const std::string p = dir / "labels.gz";
  tz::write_idx_labels(p, {1, 2, 3});
  const std::string msg = file_error([&] { tz::read_idx_images(p); });
  CHECK(contains(msg, p));
  CHECK(contains(msg, "wrong magic number 0x00000801, expected 0x00000803"));
  CHECK(contains(msg, "looks like an IDX label file"));

  const std::string q = dir / "notes.txt";
  write_raw(q, "hello, world");
  const std::string msg2 = file_error([&] { tz::read_idx_labels(q); });
  CHECK(contains(msg2, q));
  CHECK(contains(msg2, "not an IDX file"));

  const std::string missing = dir / "nope.gz";
  const std::string msg3 = file_error([&] { tz::read_idx_labels(missing); });
  CHECK(contains(msg3, missing));
  CHECK(contains(msg3, "No such file"));
}

TEST_CASE("IDX from memory: the same checks, errors naming the source, gzip members and ends") {
  const tz::IdxImages im = test_images(3, 4, 5);
  TempDir dir;
  tz::write_idx_images(dir / "i", im);
  const std::string plain = tz::read_file(dir / "i");
  const std::string gz = tz::gzip_compress(plain);
  for (const std::string& bytes : {plain, gz}) {
    const tz::IdxImages back = tz::decode_idx_images(bytes, "mem");
    CHECK(back.count == 3);
    CHECK(back.rows == 4);
    CHECK(back.cols == 5);
    CHECK(back.pixels == im.pixels);
  }
  // Two gzip members in a row (`cat a.gz b.gz`) are one stream, as for gzip(1) and zlib's gzread.
  const tz::IdxImages two = tz::decode_idx_images(tz::gzip_compress(plain.substr(0, 20)) +
                                                      tz::gzip_compress(plain.substr(20)), "two.gz");
  CHECK(two.pixels == im.pixels);
  // Bytes after the last member that are not another member are ignored, as gzip(1) does.
  CHECK(tz::decode_idx_images(gz + "junk", "junk.gz").pixels == im.pixels);
  // A stream cut just before its 8-byte trailer has all the pixels but is still refused.
  const std::string no_trailer = file_error([&] { tz::decode_idx_images(gz.substr(0, gz.size() - 8), "cut.gz"); });
  CHECK(no_trailer == "cut.gz: the gzip data ends in the middle of its stream (file truncated?)");
  std::string bad = gz;
  bad[12] = static_cast<char>(bad[12] ^ 0xff);  // inside the deflate data
  CHECK(contains(file_error([&] { tz::decode_idx_images(bad, "bad.gz"); }), "bad.gz: cannot decompress gzip data"));
  CHECK(file_error([&] { tz::decode_idx_labels("", "empty"); }) ==
        "empty: file holds 0 bytes, too short for an IDX header (expected 0x00000801, IDX ubyte labels, 1 dimension)");
}

TEST_CASE("an IDX header declaring a huge size is refused when the data runs out, not allocated") {
  // 4294967295 images of 28x28 (3.4 TB) followed by 3 bytes, plain and gzip-compressed. Nothing of
  // that size is allocated: the error is a FileError, not std::bad_alloc.
  const std::string huge = std::string("\0\0\x08\x03\xff\xff\xff\xff\0\0\0\x1c\0\0\0\x1c", 16) + "abc";
  const std::string want = ": expected 3367254359280 bytes of pixel data after the header, found 3 (file truncated?)";
  CHECK(file_error([&] { tz::decode_idx_images(huge, "huge"); }) == "huge" + want);
  CHECK(file_error([&] { tz::decode_idx_images(tz::gzip_compress(huge), "huge.gz"); }) == "huge.gz" + want);
  // 4294967295 labels, 5 present.
  const std::string labels = std::string("\0\0\x08\x01\xff\xff\xff\xff", 8) + "12345";
  CHECK(file_error([&] { tz::decode_idx_labels(labels, "l"); }) ==
        "l: expected 4294967295 bytes of label data after the header, found 5 (file truncated?)");
  // 2^32-1 cubed does not fit in 64 bits.
  const std::string overflow = std::string("\0\0\x08\x03", 4) + std::string(12, '\xff');
  CHECK(file_error([&] { tz::decode_idx_images(overflow, "o"); }) == "o: dimensions overflow");
}
