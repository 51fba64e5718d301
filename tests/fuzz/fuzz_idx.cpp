// libFuzzer harness: IDX images and labels (datasets/idx.cpp), plain or gzip, from memory.
#include "datasets/idx.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tz::fuzz;
  const std::string_view bytes = as_bytes(data, size);
  refusals_allowed([&] {
    const tz::IdxImages im = tz::decode_idx_images(bytes, source);
    check(im.rows > 0 && im.cols > 0, "images with a zero dimension were accepted");
    check(im.pixels.size() == im.count * im.rows * im.cols, "pixel count differs from count x rows x cols");
  });
  refusals_allowed([&] { (void)tz::decode_idx_labels(bytes, source); });
  return 0;
}
