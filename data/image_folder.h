// A folder of image files (PNG, JPEG, BMP, ...) as a data set, like torchvision's ImageFolder with
// transforms CenterCrop(centercrop) -> Resize((image_size, image_size)) and no labels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mmgan::data {

// Reads every image under `dir`, recursively (files in subfolders count, as ImageFolder's class
// folders do), in order of path so runs are reproducible. Extensions read: png jpg jpeg bmp tga
// gif ppm pgm pnm psd hdr pic (any case); other files are ignored. Each image is converted to
// n_colors (3: RGB, grey images expanded; 1: PIL's "L" luma), centre-cropped to centercrop x
// centercrop when centercrop > 0 (as torchvision's CenterCrop, zero-padding a smaller image), then
// resized to image_size x image_size (bilinear as PIL; the aspect ratio is not kept).
// Lossless formats give exactly PIL's pixels; JPEGs are decoded by stb_image, whose IDCT and
// chroma upsampling may differ from libjpeg's (PIL) by a few levels.
// Unreadable files: on_bad "skip" warns on stderr naming each and counts them in `skipped`; "stop"
// throws naming the file and the decoder's reason. A missing path, or a folder without images,
// is an error naming the path.
// Directory symlinks are followed, but a directory (by its canonical path) and a file are read
// once: a link back to an ancestor (a/up -> ..) neither loops nor multiplies the data.
Dataset load_image_folder(const std::string& dir, int64_t image_size, int64_t n_colors = 3, int64_t centercrop = 0,
                          const std::string& on_bad = "skip");

// One encoded image (the file's bytes) -> planar [n_colors, image_size, image_size] bytes, as
// load_image_folder prepares each file: the decoder the fuzz target drives. Throws naming `name`
// and the decoder's reason; images over kMaxImagePixels are refused before they are decoded.
std::vector<uint8_t> decode_image(const std::vector<uint8_t>& encoded, const std::string& name, int64_t image_size,
                                  int64_t n_colors = 3, int64_t centercrop = 0);

}  // namespace mmgan::data
