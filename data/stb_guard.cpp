// The marker walk and the DHT checks of stb_guard.h.
#include "data/stb_guard.h"

#include <algorithm>

#include "engine/error.h"

namespace mmgan::data {

namespace {

// One DHT segment's payload (after its length): tables of [class/id][16 counts][values].
void check_dht(const uint8_t* p, size_t len, size_t offset, const std::string& name) {
  size_t at = 0;
  while (at < len) {
    MMGAN_CHECK(len - at >= 17, "image '", name, "': JPEG Huffman table at byte ", offset + at,
                " is truncated (corrupt JPEG)");
    const uint8_t* counts = p + at + 1;
    int64_t n = 0, codes = 0;
    for (int j = 1; j <= 16; ++j) {
      n += counts[j - 1];
      // Canonical Huffman codes: after the codes of length j, at most 2^j codes are used.
      codes += counts[j - 1];
      MMGAN_CHECK(codes <= (int64_t(1) << j), "image '", name, "': JPEG Huffman table at byte ", offset + at,
                  " has more codes of length <= ", j, " than fit in ", j, " bits (corrupt JPEG)");
      codes *= 2;
    }
    MMGAN_CHECK(n <= 256, "image '", name, "': JPEG Huffman table at byte ", offset + at, " has ", n,
                " codes, more than the 256 a table holds (corrupt JPEG)");
    MMGAN_CHECK(len - at - 17 >= size_t(n), "image '", name, "': JPEG Huffman table at byte ", offset + at,
                " is truncated (corrupt JPEG)");
    at += 17 + size_t(n);
  }
}

}  // namespace

void check_before_stb(const uint8_t* p, size_t n, const std::string& name) {
  // A JPEG to stb: 0xFF, any number of 0xFF fill bytes, then SOI (0xD8).
  size_t at = 0;
  while (at < n && p[at] == 0xFF) ++at;
  if (at == 0 || at >= n || p[at] != 0xD8) return;
  ++at;
  // Segments are skipped by their lengths; anything else (entropy-coded scan data, garbage) is
  // scanned byte by byte for the next marker, so every DHT stb could reach is checked.
  while (at + 1 < n) {
    const uint8_t m = p[at + 1];
    if (p[at] != 0xFF || m == 0xFF) {
      ++at;
      continue;
    }
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // stuffed byte, TEM, SOI, RSTn
      at += 2;
      continue;
    }
    if (m == 0xD9 || at + 4 > n) return;  // EOI: stb stops reading
    const size_t length = size_t(p[at + 2]) << 8 | p[at + 3];
    if (length < 2) return;  // stb refuses the segment
    const size_t payload = std::min(length - 2, n - at - 4);
    if (m == 0xC4) check_dht(p + at + 4, payload, at + 4, name);
    at += 4 + payload;
  }
}

void check_pixels_per_byte(int64_t width, int64_t height, size_t size, const std::string& name) {
  MMGAN_CHECK(width * height <= kMaxPixelsPerByte * int64_t(size), "image '", name, "': ", width, "x", height,
              " pixels in ", size, " bytes, more than ", kMaxPixelsPerByte,
              " pixels per byte: a truncated or crafted file");
}

}  // namespace mmgan::data
