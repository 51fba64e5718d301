// libFuzzer harness: .npz archives (io/npz.cpp decode_npz, behind read_npz and load_npz), stored
// or deflated, and a checkpoint's "__config__" text as models/train.cpp reads it (Config::parse).
// Accepted archives must survive a round trip through encode_npz.
#include "io/npz.hpp"
#include "models/model.hpp"
#include "tests/fuzz/fuzz_common.hpp"

// Config's file also looks models up in the registry, which the fuzz build does not link (it
// would pull in the whole model zoo): an empty one stands in.
const std::vector<tz::models::ModelInfo>& tz::models::registry() {
  static const std::vector<ModelInfo> none;
  return none;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tz::fuzz;
  refusals_allowed([&] {
    const tz::NamedArrays arrays = tz::decode_npz(as_bytes(data, size), source);
    for (const auto& [name, a] : arrays) {
      (void)a.to_double();
      if (name == "__config__" && a.dtype == tz::DType::u1) (void)tz::models::Config::parse(a.bytes, source);
    }
    bool writable = true;
    for (const auto& [name, a] : arrays) writable = writable && !name.empty();
    if (!writable || arrays.size() >= 0xffff) return;
    const tz::NamedArrays back = tz::decode_npz(tz::encode_npz(arrays), source);
    check(back.size() == arrays.size(), "round trip changed the number of arrays");
    for (std::size_t i = 0; i < back.size(); ++i)
      check(back[i].first == arrays[i].first && back[i].second.bytes == arrays[i].second.bytes &&
                back[i].second.shape == arrays[i].second.shape,
            "round trip changed an array");
  });
  return 0;
}
