// tapezoo: checkpoints as NumPy .npz files (a zip of .npy files, one per named array).
//
//   tz::save_npz("vae.npz", {{"enc.l1.W", W1}, {"enc.l1.b", b1}});   // xt::xarray<float> values
//   auto arrays = tz::load_npz("vae.npz");                              // name -> NdArray
//   xt::xarray<float> W = arrays.at("enc.l1.W").to_float();
//   tz::load_npz_into("vae.npz", {{"enc.l1.W", &W1}, {"enc.l1.b", &b1}}); // checks names and shapes
//
// In Python:  ck = numpy.load("vae.npz");  ck["enc.l1.W"]  (each array is stored as "<name>.npy").
//
// Writing: members are stored uncompressed (zip method 0) with their CRC-32, a fixed time stamp
// (1980-01-01) and no extra fields, so the same arrays always give the same bytes. The file is
// written atomically (datasets/files.hpp): a failed save leaves the previous checkpoint intact.
// Reading: the central directory gives each member's place and sizes (so data descriptors and
// Zip64 extra fields as written by Python's zipfile are fine); members may be stored or deflated
// (np.savez_compressed); every member's CRC-32 is checked. Sizes and offsets are checked against
// the file before use: members must lie inside it and must not share bytes, and a deflated
// member may not claim more than deflate can produce from its compressed size (about 1032:1), so
// a zip bomb is refused rather than inflated. Archives over 4 GiB (Zip64 offsets) are not written.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "datasets/npy.hpp"

namespace tz {

using NamedArrays = std::vector<std::pair<std::string, NdArray>>;

std::string encode_npz(const NamedArrays& arrays);
NamedArrays decode_npz(std::string_view bytes, const std::string& source);  // in file order

void save_npz(const std::string& path, const NamedArrays& arrays);
void save_npz(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<float>>>& arrays);
void save_npz(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<double>>>& arrays);

NamedArrays read_npz(const std::string& path);                   // in file order
std::map<std::string, NdArray> load_npz(const std::string& path);  // by name

// Loads a checkpoint into existing arrays. All names and shapes are checked first, and nothing is
// changed unless all match; otherwise a FileError lists every difference:
//   "checkpoint x.npz: missing 'enc.l1.W'; unexpected 'foo'; 'dec.l3.b' has shape [784] in the
//    file but [300] in the model"
// float64 arrays in the file are rounded to float; other dtypes are a difference.
void load_npz_into(const std::string& path, const std::vector<std::pair<std::string, xt::xarray<float>*>>& params);
void load_npz_into(const std::string& path, std::vector<std::pair<std::string, xt::xarray<float>>>& params);

}  // namespace tz
