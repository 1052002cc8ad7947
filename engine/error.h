// Engine errors: exceptions (never exit()) carrying file:line, the failed condition and a
// message that names the shapes, dtypes, flags or files at fault.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mmgan {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... A>
[[noreturn]] void fail(const char* file, int line, const char* cond, const A&... parts) {
  std::ostringstream os;
  ((os << parts), ...);
  os << " [" << file << ":" << line;
  if (cond) os << ", check '" << cond << "' failed";
  os << "]";
  throw Error(os.str());
}
}  // namespace detail

}  // namespace mmgan

#define MMGAN_CHECK(cond, ...)                                                  \
  do {                                                                          \
    if (!(cond)) ::mmgan::detail::fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)
#define MMGAN_FAIL(...) ::mmgan::detail::fail(__FILE__, __LINE__, nullptr, __VA_ARGS__)
