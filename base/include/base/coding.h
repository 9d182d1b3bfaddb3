// Byte-level coding shared by every on-disk and on-wire format: fixed-width
// little-endian integers and base64 (RFC 4648, standard alphabet).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs {

// Little-endian fixed-width integers. Encode* write exactly 4 or 8 bytes at
// p; Put* append them; Decode* read them (p must hold that many bytes).
void EncodeFixed32(char* p, uint32_t v);
void EncodeFixed64(char* p, uint64_t v);
void PutFixed32(std::string* out, uint32_t v);
void PutFixed64(std::string* out, uint64_t v);
uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);

// Base64 with '=' padding.
std::string Base64Encode(std::string_view raw);
// Accepts padded and unpadded input and ignores ASCII whitespace; refuses
// (InvalidArgument "bad base64") characters outside the alphabet, '=' other
// than one or two at the very end, and lengths no encoding produces.
Result<std::string> Base64Decode(std::string_view b64);

}  // namespace cfs
