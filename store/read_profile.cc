#include "store/read_profile.h"

#include <zstd.h>

#include <nlohmann/json.hpp>

#include "base/coding.h"

namespace cfs {

namespace {

constexpr size_t kMaxProfileText = 64 << 20;

}  // namespace

std::string ReadProfile::ToText() const {
  std::string out;
  for (const Range& r : ranges) {
    nlohmann::json j = {{"path", r.path}, {"offset", r.offset}, {"length", r.length}};
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

Result<ReadProfile> ReadProfile::ParseText(std::string_view text, const std::string& what) {
  ReadProfile p;
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = what + ":" + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      return Status::Invalid(where + ": not a JSON object");
    }
    if (!j.is_object() || !j.contains("path") || !j["path"].is_string() || !j.contains("offset") ||
        !j["offset"].is_number_unsigned() || !j.contains("length") || !j["length"].is_number_unsigned())
      return Status::Invalid(where + ": want {\"path\":P,\"offset\":N,\"length\":N}");
    Range r{j["path"].get<std::string>(), j["offset"].get<uint64_t>(), j["length"].get<uint64_t>()};
    while (r.path.starts_with("/")) r.path.erase(0, 1);
    if (r.path.empty()) return Status::Invalid(where + ": empty path");
    p.ranges.push_back(std::move(r));
  }
  return p;
}

std::string ReadProfile::ToAnnotation() const {
  const std::string text = ToText();
  std::string z(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(z.data(), z.size(), text.data(), text.size(), 19);
  z.resize(ZSTD_isError(n) ? 0 : n);
  return Base64Encode(z);
}

Result<ReadProfile> ReadProfile::FromAnnotation(std::string_view value) {
  const std::string what = std::string("annotation ") + kReadProfileAnnotation;
  auto z = Base64Decode(value);
  if (!z.ok()) return Status::Invalid(what + ": not base64");
  unsigned long long size = ZSTD_getFrameContentSize(z->data(), z->size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxProfileText)
    return Status::Invalid(what + ": not a zstd frame of a known size");
  std::string text(size, '\0');
  size_t n = ZSTD_decompress(text.data(), text.size(), z->data(), z->size());
  if (ZSTD_isError(n) || n != size) return Status::Invalid(what + ": zstd: damaged");
  return ParseText(text, what);
}

}  // namespace cfs
