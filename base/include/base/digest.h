// SHA-256 digests: the address of every chunk, layer and blob in the store.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs {

// A raw 32-byte SHA-256 value. Printed as "sha256:<64 hex>" (OCI form).
struct Digest {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const;
  std::string ToString() const { return "sha256:" + Hex(); }  // OCI form
  std::string Short() const { return Hex().substr(0, 12); }
  std::string_view Raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  bool IsZero() const;
  static Digest FromRaw(std::string_view raw);  // REQUIRES: raw.size() == 32
  // Parses "sha256:<64 lowercase hex>" (or bare hex when allow_bare).
  static Result<Digest> Parse(std::string_view s, bool allow_bare = false);
  // One-shot hash of a buffer.
  static Digest Of(const void* data, size_t n);
  static Digest Of(std::string_view s) { return Of(s.data(), s.size()); }

  auto operator<=>(const Digest&) const = default;
};

struct DigestHash {
  size_t operator()(const Digest& d) const {
    size_t h;
    static_assert(sizeof(h) <= 32);
    __builtin_memcpy(&h, d.bytes.data(), sizeof(h));
    return h;  // already uniformly distributed
  }
};

// Streaming SHA-256 (OpenSSL EVP). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest Finish();  // resets the state for reuse
 private:
  void* ctx_;  // EVP_MD_CTX*
};

}  // namespace cfs
