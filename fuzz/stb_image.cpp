// stb_image compiled from its header into the fuzz executables, with the fuzzer's coverage and
// ASan/UBSan instrumentation: Debian's libstb.so is neither, so libFuzzer would see no edges in the
// decoder and the sanitizers no out-of-bounds write inside it. Definitions in the executable take
// precedence over the shared library's, so data/ calls these.
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
