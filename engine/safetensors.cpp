#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>
#include <nlohmann/json.hpp>

#include "engine/autograd/grad_mode.h"
#include "engine/checked_math.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan {

namespace {
size_t file_dtype_size(const std::string& d) {
  if (d == "F32" || d == "I32") return 4;
  if (d == "F64" || d == "I64") return 8;
  return 0;
}
}  // namespace

const Tensor& SafeTensors::at(const std::string& name) const {
  auto it = tensors.find(name);
  MMGAN_CHECK(it != tensors.end(), "safetensors: no tensor named '", name, "'");
  return it->second;
}

void SafeTensors::add(const std::string& name, const Tensor& t, const std::string& fd) {
  MMGAN_CHECK(!contains(name), "safetensors: tensor '", name, "' added twice");
  MMGAN_CHECK(name != "__metadata__", "safetensors: '__metadata__' is reserved");
  const std::string d = fd.empty() ? (t.dtype() == DType::F32 ? "F32" : "F64") : fd;
  MMGAN_CHECK(file_dtype_size(d) > 0, "safetensors: unsupported file dtype '", d, "' for '", name, "'");
  names.push_back(name);
  tensors[name] = t;
  file_dtype[name] = d;
}

void SafeTensors::add_all(const SafeTensors& other, const std::string& prefix) {
  for (const std::string& n : other.names) add(prefix + n, other.tensors.at(n), other.file_dtype.at(n));
}

std::string exact_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  MMGAN_CHECK(fd >= 0, "cannot write '", tmp, "': ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      MMGAN_FAIL("cannot write '", tmp, "': ", std::strerror(e));
    }
    done += size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    MMGAN_FAIL("cannot flush '", tmp, "': ", std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    MMGAN_FAIL("cannot rename '", tmp, "' to '", path, "': ", std::strerror(e));
  }
}

void save_safetensors(const std::string& path, const SafeTensors& st) {
  NoGradGuard ng;
  nlohmann::ordered_json header;
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string data;
  for (const std::string& name : st.names) {
    const Tensor& t = st.at(name);
    const std::string d = st.file_dtype.at(name);
    const size_t begin = data.size();
    if (d == "F32") {
      Tensor c = to_device(contiguous(to_dtype(t, DType::F32)), Device::cpu());
      data.append(reinterpret_cast<const char*>(c.data<float>()), size_t(c.numel()) * 4);
    } else if (d == "F64") {
      const std::vector<double> v = t.to_vector();
      data.append(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    } else {
      for (double x : t.to_vector()) {
        MMGAN_CHECK(x == std::floor(x), "safetensors '", path, "': tensor '", name, "' stored as ", d,
                    " holds a non-integer ", x);
        if (d == "I64") {
          const int64_t i = int64_t(x);
          data.append(reinterpret_cast<const char*>(&i), 8);
        } else {
          const int32_t i = int32_t(x);
          data.append(reinterpret_cast<const char*>(&i), 4);
        }
      }
    }
    header[name] = {{"dtype", d}, {"shape", t.shape()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the format allows trailing spaces; keeps data 8-aligned
  std::string bytes(8, '\0');
  const uint64_t hl = h.size();
  std::memcpy(bytes.data(), &hl, 8);  // x86-64 and aarch64 are little-endian
  bytes += h;
  bytes += data;
  write_file_atomic(path, bytes);
}

SafeTensors load_safetensors(const std::string& path) {
  std::error_code ec;
  MMGAN_CHECK(!std::filesystem::is_directory(path, ec), "safetensors file '", path, "' is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  MMGAN_CHECK(f.good(), "cannot open safetensors file '", path, "': ", std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  MMGAN_CHECK(!f.bad(), "cannot read safetensors file '", path, "'");
  return parse_safetensors(bytes, path);
}

namespace {
// A size or offset in the header: a JSON integer >= 0, not a float (1.5 would be truncated) and not
// above 2^53 (what every JSON reader represents exactly).
uint64_t header_size(const nlohmann::json& v, const std::string& path, const std::string& name, const char* what) {
  MMGAN_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), "safetensors file '", path,
              "': tensor '", name, "' has a ", what, " that is not a non-negative integer: ", v.dump());
  const uint64_t u = v.get<uint64_t>();
  MMGAN_CHECK(u <= (uint64_t(1) << 53), "safetensors file '", path, "': tensor '", name, "' has a ", what, " of ", u,
              ", beyond 2^53");
  return u;
}
}  // namespace

SafeTensors parse_safetensors(const std::string& bytes, const std::string& path) {
  MMGAN_CHECK(bytes.size() >= 8, "safetensors file '", path, "' is truncated (", bytes.size(), " bytes)");
  uint64_t hl = 0;
  std::memcpy(&hl, bytes.data(), 8);
  MMGAN_CHECK(hl <= bytes.size() - 8, "safetensors file '", path, "': header length ", hl, " exceeds the file size ",
              bytes.size());
  nlohmann::json header;
  bool duplicate = false;
  std::string duplicate_key;
  std::set<std::string> top_keys;
  // The JSON reader keeps the last of repeated keys silently; the format has each tensor once.
  const nlohmann::json::parser_callback_t note_keys = [&](int depth, nlohmann::json::parse_event_t event,
                                                          nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
        !top_keys.insert(parsed.get<std::string>()).second) {
      duplicate = true;
      duplicate_key = parsed.get<std::string>();
    }
    return true;
  };
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + int64_t(hl), note_keys);
  } catch (const std::exception& e) {
    MMGAN_FAIL("safetensors file '", path, "': header is not valid JSON: ", e.what());
  }
  MMGAN_CHECK(header.is_object(), "safetensors file '", path, "': header is not a JSON object");
  MMGAN_CHECK(!duplicate, "safetensors file '", path, "': key '", duplicate_key, "' appears twice in the header");
  const char* data = bytes.data() + 8 + hl;
  const uint64_t data_size = bytes.size() - 8 - hl;
  SafeTensors st;
  struct Span {
    uint64_t begin, end;
    std::string name;
    bool operator<(const Span& o) const { return std::tie(begin, end) < std::tie(o.begin, o.end); }
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      MMGAN_CHECK(it->is_object(), "safetensors file '", path, "': __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        MMGAN_CHECK(m->is_string(), "safetensors file '", path, "': metadata '", m.key(), "' is not a string");
        st.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    MMGAN_CHECK(it->is_object(), "safetensors file '", path, "': entry '", name, "' is not an object");
    try {
      const std::string d = it->at("dtype").get<std::string>();
      const size_t es = file_dtype_size(d);
      MMGAN_CHECK(es > 0, "safetensors file '", path, "': tensor '", name, "' has unsupported dtype ", d,
                  " (supported: F32, F64, I64, I32)");
      const auto& jshape = it->at("shape");
      const auto& joffs = it->at("data_offsets");
      MMGAN_CHECK(jshape.is_array() && jshape.size() <= 16, "safetensors file '", path, "': tensor '", name,
                  "' has a shape that is not a list of at most 16 sizes");
      MMGAN_CHECK(joffs.is_array() && joffs.size() == 2, "safetensors file '", path, "': tensor '", name,
                  "' needs data_offsets [begin, end]");
      Shape shape;
      for (const auto& v : jshape) shape.push_back(int64_t(header_size(v, path, name, "size")));
      const uint64_t b = header_size(joffs[0], path, name, "data offset"),
                     e = header_size(joffs[1], path, name, "data offset");
      MMGAN_CHECK(b <= e && e <= data_size, "safetensors file '", path, "': tensor '", name, "' has data offsets [", b,
                  ", ", e, "] outside the ", data_size, " data bytes (file truncated?)");
      const int64_t n =
          checked_mul(shape_numel(shape), int64_t(es),
                      "safetensors file '" + path + "': tensor '" + name + "' of shape " + shape_str(shape));
      MMGAN_CHECK(e - b == uint64_t(n), "safetensors file '", path, "': tensor '", name, "' of shape ",
                  shape_str(shape), " and dtype ", d, " needs ", n, " bytes but has ", e - b);
      spans.push_back({b, e, name});
      st.file_dtype[name] = d;
    } catch (const nlohmann::json::exception& e) {
      MMGAN_FAIL("safetensors file '", path, "': entry '", name, "' is malformed: ", e.what());
    }
  }
  // The format's rule: the tensors' byte ranges tile the data buffer exactly, no holes or overlaps
  // (an overlap would load one tensor's bytes as another's weights).
  std::sort(spans.begin(), spans.end());
  uint64_t at = 0;
  for (const Span& s : spans) {
    MMGAN_CHECK(s.begin == at, "safetensors file '", path, "': tensor '", s.name, "' starts at data byte ", s.begin,
                s.begin < at ? ", overlapping the tensor before it" : ", leaving a hole after the tensor before it",
                " (expected ", at, ")");
    at = s.end;
  }
  MMGAN_CHECK(at == data_size, "safetensors file '", path, "': the tensors cover ", at, " of the ", data_size,
              " data bytes (trailing bytes)");
  for (const Span& s : spans) {
    const std::string& d = st.file_dtype[s.name];
    const Shape shape = header.at(s.name).at("shape").get<Shape>();
    Tensor t = empty(shape, d == "F32" ? DType::F32 : DType::F64);
    const char* src = data + s.begin;
    const uint64_t n = uint64_t(t.numel());
    if (d == "F32" || d == "F64") {
      if (n) std::memcpy(t.view().data, src, n * file_dtype_size(d));
    } else {
      double* p = t.data<double>();
      for (uint64_t i = 0; i < n; ++i) {
        if (d == "I64") {
          int64_t v;
          std::memcpy(&v, src + 8 * i, 8);
          // Integers are held as doubles: beyond 2^53 they would not come back as written.
          MMGAN_CHECK(v >= -(int64_t(1) << 53) && v <= (int64_t(1) << 53), "safetensors file '", path, "': tensor '",
                      s.name, "' holds the integer ", v, ", beyond 2^53");
          p[i] = double(v);
        } else {
          int32_t v;
          std::memcpy(&v, src + 4 * i, 4);
          p[i] = double(v);
        }
      }
    }
    st.tensors[s.name] = t;
    st.names.push_back(s.name);
  }
  return st;
}

}  // namespace mmgan
