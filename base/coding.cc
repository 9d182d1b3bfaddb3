#include "base/coding.h"

#include <cctype>

namespace cfs {

void EncodeFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<char>(v >> (8 * i));
}

void EncodeFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<char>(v >> (8 * i));
}

void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  EncodeFixed32(b, v);
  out->append(b, sizeof(b));
}

void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  EncodeFixed64(b, v);
  out->append(b, sizeof(b));
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string Base64Encode(std::string_view raw) {
  std::string out;
  out.reserve(4 * ((raw.size() + 2) / 3));
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(raw[i]) << 16 | static_cast<uint8_t>(raw[i + 1]) << 8 |
                 static_cast<uint8_t>(raw[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  size_t rest = raw.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(raw[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(raw[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view b64) {
  auto bad = [] { return Status::Invalid("bad base64"); };
  std::string in;
  in.reserve(b64.size());
  for (char c : b64)
    if (!std::isspace(static_cast<unsigned char>(c))) in += c;
  size_t data_len = in.find('=');
  if (data_len != std::string::npos) {
    // Padding: one or two '=' closing a multiple of four characters.
    if (data_len == 0 || in.size() % 4 != 0 || in.size() - data_len > 2) return bad();
    for (size_t k = data_len; k < in.size(); k++)
      if (in[k] != '=') return bad();
  } else {
    data_len = in.size();
  }
  if (data_len % 4 == 1) return bad();  // one stray character
  std::string out;
  out.reserve(data_len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t k = 0; k < data_len; k++) {
    int v = Sextet(in[k]);
    if (v < 0) return bad();
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace cfs
