// Checks on an encoded image before stb_image sees it, for inputs that Debian's stb_image 2.27
// mishandles. A JPEG Huffman table (DHT segment) whose 16 code counts add up to more than 256 makes
// stbi__build_huffman write past its 257-entry size table and the 256-entry code and value tables
// (memory corruption from a few crafted bytes; found by fuzz/image.cpp with stb built in). The
// JPEG's marker segments are walked as stb walks them, and every DHT must hold at most 256 codes
// whose canonical lengths fit (at most 2^j codes of length <= j), as the JPEG standard requires.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mmgan::data {

// Throws mmgan::Error naming `name` and the bad table; other formats, and JPEGs stb would refuse
// for other reasons, pass through to stb.
void check_before_stb(const uint8_t* data, size_t size, const std::string& name);

// stb decodes a truncated BMP, TGA, PSD or JPEG by reading zeros past the end, so a header of a few
// bytes can ask for a 100-megapixel decode (seconds of work and 300 MB for a 227-byte file, found by
// fuzz/image.cpp). Real images never come near 2^14 pixels per encoded byte (a flat 1024x1024 PNG
// is about 350): more is refused before decoding, naming the sizes.
inline constexpr int64_t kMaxPixelsPerByte = int64_t(1) << 14;
void check_pixels_per_byte(int64_t width, int64_t height, size_t size, const std::string& name);

}  // namespace mmgan::data
