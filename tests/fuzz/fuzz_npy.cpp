// libFuzzer harness: .npy decoding (datasets/npy.cpp), the conversions to float and double, and
// the round trip through encode_npy.
#include "datasets/npy.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tz::fuzz;
  refusals_allowed([&] {
    const tz::NdArray a = tz::decode_npy(as_bytes(data, size), source);
    check(a.bytes.size() == a.size() * tz::dtype_size(a.dtype), "byte count differs from the shape");
    const xt::xarray<double> d = a.to_double();
    const xt::xarray<float> f = a.to_float();
    check(d.size() == a.size() && f.size() == a.size(), "converted array has another size");
    const tz::NdArray back = tz::decode_npy(tz::encode_npy(a), source);
    check(back.dtype == a.dtype && back.shape == a.shape && back.bytes == a.bytes, "encode/decode round trip differs");
  });
  return 0;
}
