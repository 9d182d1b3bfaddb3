#include "deploy/ssh_keys.h"

#include <fnmatch.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "base/coding.h"

namespace cfs::deploy {

namespace {

// Base64 of a known_hosts field; "" when malformed (matches nothing).
std::string Unbase64(const std::string& in) {
  auto r = Base64Decode(in);
  return r.ok() ? std::move(r).value() : std::string();
}

// Calls fn(line number, fields) for each non-comment line of known_hosts,
// fields split on blanks (at most `max`).
template <typename Fn>
void ForEachLine(const std::string& text, size_t max, Fn&& fn) {
  int no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    no++;
    std::vector<std::string> f;
    for (size_t a = 0; a < line.size() && f.size() < max;) {
      size_t b = line.find_first_of(" \t\r", a);
      if (b != a) f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    if (f.empty() || f[0][0] == '#') continue;
    fn(no, f);
  }
}

bool HashedMatches(const std::string& field, const std::string& name) {
  size_t bar = field.find('|', 3);
  if (bar == std::string::npos) return false;
  std::string salt = Unbase64(field.substr(3, bar - 3)), want = Unbase64(field.substr(bar + 1));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt.data(), salt.size(), reinterpret_cast<const unsigned char*>(name.data()),
       name.size(), mac, &len);
  return want.size() == len && std::memcmp(want.data(), mac, len) == 0;
}

// Reads an SSH wire string at *pos; false when the data ends first.
bool ReadString(const std::string& d, size_t* pos, std::string* out) {
  if (*pos + 4 > d.size()) return false;
  auto b = reinterpret_cast<const unsigned char*>(d.data() + *pos);
  uint32_t n = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  if (n > d.size() - *pos - 4) return false;
  *out = d.substr(*pos + 4, n);
  *pos += 4 + n;
  return true;
}

// The key type in the public part of an "openssh-key-v1" blob.
std::string OpenSshKeyType(const std::string& blob) {
  static const char kMagic[] = "openssh-key-v1";  // with its NUL
  if (blob.size() < sizeof kMagic || std::memcmp(blob.data(), kMagic, sizeof kMagic) != 0)
    return "";
  size_t pos = sizeof kMagic;
  std::string cipher, kdf, kdf_opts, pub, type;
  if (!ReadString(blob, &pos, &cipher) || !ReadString(blob, &pos, &kdf) ||
      !ReadString(blob, &pos, &kdf_opts) || pos + 4 > blob.size())
    return "";
  pos += 4;  // number of keys
  size_t p = 0;
  if (!ReadString(blob, &pos, &pub) || !ReadString(pub, &p, &type)) return "";
  return type;
}

}  // namespace

bool HostFieldMatches(const std::string& field, const std::string& name, bool wildcards) {
  if (field.rfind("|1|", 0) == 0) return HashedMatches(field, name);
  bool matched = false;
  for (size_t pos = 0; pos <= field.size();) {
    size_t comma = field.find(',', pos);
    std::string pat = field.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? field.size() + 1 : comma + 1;
    bool negate = wildcards && !pat.empty() && pat[0] == '!';
    if (negate) pat.erase(0, 1);
    bool hit = wildcards ? fnmatch(pat.c_str(), name.c_str(), 0) == 0 : pat == name;
    if (hit && negate) return false;
    matched = matched || hit;
  }
  return matched;
}

int RevokedLine(const std::string& known_hosts, const std::string& name, const std::string& key) {
  int found = 0;
  ForEachLine(known_hosts, 4, [&](int no, const std::vector<std::string>& f) {
    if (found || f.size() < 4 || f[0] != "@revoked") return;
    if (HostFieldMatches(f[1], name, true) && Unbase64(f[3]) == key) found = no;
  });
  return found;
}

int CertAuthorityLine(const std::string& known_hosts, const std::string& name) {
  int found = 0;
  ForEachLine(known_hosts, 2, [&](int no, const std::vector<std::string>& f) {
    if (!found && f.size() >= 2 && f[0] == "@cert-authority" && HostFieldMatches(f[1], name, true))
      found = no;
  });
  return found;
}

std::string PrivateKeyType(const std::string& key_text, const std::string& pub_text) {
  if (key_text.find("-----BEGIN RSA PRIVATE KEY-----") != std::string::npos) return "ssh-rsa";
  if (key_text.find("-----BEGIN EC PRIVATE KEY-----") != std::string::npos) return "ecdsa";
  static const char kBegin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
  size_t a = key_text.find(kBegin), b = key_text.find("-----END OPENSSH PRIVATE KEY-----");
  if (a != std::string::npos && b != std::string::npos && b > a) {
    std::string body;
    for (size_t i = a + sizeof kBegin - 1; i < b; i++)
      if (!std::isspace(static_cast<unsigned char>(key_text[i]))) body += key_text[i];
    std::string type = OpenSshKeyType(Unbase64(body));
    if (!type.empty()) return type;
  }
  size_t sp = pub_text.find(' ');
  return sp == std::string::npos ? "" : pub_text.substr(0, sp);
}

}  // namespace cfs::deploy
