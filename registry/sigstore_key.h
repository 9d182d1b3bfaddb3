// Sigstore signing keys as cosign and containers/image (skopeo
// generate-sigstore-key, copy --sign-by-sigstore-private-key) store them:
//
//  - public key: PEM "PUBLIC KEY", the PKIX (SubjectPublicKeyInfo) DER of an
//    ECDSA P-256 key;
//  - private key: PEM "ENCRYPTED COSIGN PRIVATE KEY" (also read:
//    "ENCRYPTED SIGSTORE PRIVATE KEY"), whose body is the JSON of
//    go-securesystemslib's `encrypted` package:
//      {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
//       "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
//    key = scrypt(passphrase, salt, N, r, p, 32 bytes); ciphertext =
//    secretbox(XSalsa20-Poly1305, key, 24-byte nonce) of the PKCS#8 DER of
//    the key (Poly1305 tag first, as NaCl and libsodium write it). N is one
//    of 2^15 (written: what every reader accepts, skopeo 1.9 included),
//    2^16, 2^17 with r=8, p=1.
//
// Signatures are ECDSA over SHA-256 of the message, ASN.1 DER encoded.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs::registry::sigstore {

struct KeyPair {
  std::string private_pem;  // encrypted with the passphrase
  std::string public_pem;
};

// A fresh ECDSA P-256 key pair. The passphrase may be empty (cosign allows it).
Result<KeyPair> GenerateKeyPair(std::string_view passphrase);

class PublicKey {
 public:
  // A PEM "PUBLIC KEY" (ECDSA, RSA or Ed25519 as OpenSSL reads them).
  static Result<PublicKey> Parse(std::string_view pem);
  // True when sig (DER) is this key's signature of SHA-256(message) (Ed25519: of message).
  bool Verify(std::string_view message, std::string_view sig) const;
  std::string Pem() const;

  struct Key;
  std::shared_ptr<Key> key;
};

class PrivateKey {
 public:
  // Decrypts an encrypted private key PEM (above). Denied for a wrong
  // passphrase; Invalid for anything that is not such a key.
  static Result<PrivateKey> Load(std::string_view pem, std::string_view passphrase);
  // The DER signature of SHA-256(message).
  Result<std::string> Sign(std::string_view message) const;
  PublicKey Public() const;

  std::shared_ptr<PublicKey::Key> key;
};

// The ENCRYPTED body alone (tests): plaintext encrypted with the passphrase,
// scrypt N = n (2^15, 2^16 or 2^17), and back.
Result<std::string> EncryptWithPassphrase(std::string_view plaintext, std::string_view passphrase,
                                          uint64_t n = 32768);
Result<std::string> DecryptWithPassphrase(std::string_view json, std::string_view passphrase);

}  // namespace cfs::registry::sigstore
