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

}  // namespace mmgan::data
