#include "base/digest.h"

#include <openssl/evp.h>

#include <cstring>

namespace cfs {

namespace {
constexpr char kHex[] = "0123456789abcdef";
int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

std::string Digest::Hex() const {
  std::string s(64, '0');
  for (size_t i = 0; i < 32; i++) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}

bool Digest::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

Digest Digest::FromRaw(std::string_view raw) {
  Digest d;
  std::memcpy(d.bytes.data(), raw.data(), 32);
  return d;
}

Result<Digest> Digest::Parse(std::string_view s, bool allow_bare) {
  std::string_view hex = s;
  if (hex.substr(0, 7) == "sha256:") {
    hex.remove_prefix(7);
  } else if (!allow_bare) {
    return Status::Invalid("bad digest '" + std::string(s) + "': want sha256:<64 hex digits>");
  }
  if (hex.size() != 64) return Status::Invalid("bad digest '" + std::string(s) + "': wrong length");
  Digest d;
  for (size_t i = 0; i < 32; i++) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return Status::Invalid("bad digest '" + std::string(s) + "': not lowercase hex");
    d.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

Digest Digest::Of(const void* data, size_t n) {
  Digest d;
  unsigned int len = 0;
  EVP_Digest(data, n, d.bytes.data(), &len, EVP_sha256(), nullptr);
  return d;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::Update(const void* data, size_t n) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}
Digest Sha256::Finish() {
  Digest d;
  unsigned int len = 0;
  auto* c = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(c, d.bytes.data(), &len);
  EVP_DigestInit_ex(c, EVP_sha256(), nullptr);
  return d;
}

}  // namespace cfs
