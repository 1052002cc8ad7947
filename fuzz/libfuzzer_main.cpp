// libFuzzer's entry for one target (MMGAN_FUZZ_TARGET, its name in harness.h). A finding that is
// not a crash (an exception other than mmgan::Error) is printed and aborts, which libFuzzer
// reports as a crash and saves as crash-<sha1>.
#include <cstdio>
#include <cstdlib>

#include "fuzz/harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("OMP_NUM_THREADS", "1", 0);  // one thread: stacks stay readable, runs reproducible
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const mmgan::fuzz::Target& t = mmgan::fuzz::target(MMGAN_FUZZ_TARGET);
  const std::string f = mmgan::fuzz::run(t, data, size).finding;
  if (!f.empty()) {
    std::fprintf(stderr, "==mmgan-fuzz== finding: %s\n", f.c_str());
    std::abort();
  }
  return 0;
}
