#include "registry/sigstore_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "base/coding.h"

namespace cfs::registry::sigstore {

struct PublicKey::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

using nlohmann::ordered_json;

constexpr const char* kCosignPemType = "ENCRYPTED COSIGN PRIVATE KEY";
constexpr const char* kSigstorePemType = "ENCRYPTED SIGSTORE PRIVATE KEY";
constexpr size_t kSaltSize = 32;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::shared_ptr<PublicKey::Key> Wrap(EVP_PKEY* p) {
  auto k = std::make_shared<PublicKey::Key>();
  k->pkey = p;
  return k;
}

std::string BioString(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// SHA-256 for ECDSA and RSA; none (the scheme's own) for Ed25519.
const EVP_MD* DigestFor(EVP_PKEY* p) {
  return EVP_PKEY_get_id(p) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
}

// A PEM block of any type (OpenSSL's generic PEM codec).
std::string PemEncode(const std::string& type, std::string_view der) {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio(b.get(), type.c_str(), "", reinterpret_cast<const unsigned char*>(der.data()),
                static_cast<long>(der.size()));
  return BioString(b.get());
}

// The first PEM block of text: its type and decoded body (header lines are
// skipped).
Result<std::pair<std::string, std::string>> PemDecode(std::string_view text) {
  BioPtr b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  char *name = nullptr, *header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(b.get(), &name, &header, &data, &len) != 1) {
    ERR_clear_error();
    return Status::Invalid("not a PEM file (no complete BEGIN/END block)");
  }
  std::pair<std::string, std::string> out(name, std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len)));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return out;
}

Result<std::string> Scrypt(std::string_view pass, std::string_view salt, uint64_t n, uint32_t r,
                           uint32_t p) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialise");
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (crypto_pwhash_scryptsalsa208sha256_ll(
          reinterpret_cast<const uint8_t*>(pass.data()), pass.size(),
          reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), n, r, p,
          reinterpret_cast<uint8_t*>(key.data()), key.size()) != 0)
    return Status::Unavailable("scrypt failed (out of memory?)");
  return key;
}

Result<std::string> B64Field(const ordered_json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || !j[k].is_string())
    return Status::Invalid(std::string("encrypted key: no \"") + k + "\"");
  auto r = Base64Decode(j[k].get<std::string>());
  if (!r.ok()) return Status::Invalid(std::string("encrypted key: \"") + k + "\" is not base64");
  return r;
}

// The kdf parameters go-securesystemslib accepts (Legacy, Standard, OWASP).
bool KnownScryptParams(uint64_t n, uint64_t r, uint64_t p) {
  return (n == 32768 || n == 65536 || n == 131072) && r == 8 && p == 1;
}

std::string Bytes(const unsigned char* p, size_t n) { return std::string(reinterpret_cast<const char*>(p), n); }

}  // namespace

Result<std::string> EncryptWithPassphrase(std::string_view plaintext, std::string_view passphrase,
                                          uint64_t n) {
  if (!KnownScryptParams(n, 8, 1)) return Status::Invalid("scrypt N must be 2^15, 2^16 or 2^17");
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialise");
  std::string salt(kSaltSize, '\0'), nonce(crypto_secretbox_NONCEBYTES, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  ASSIGN_OR_RETURN(std::string key, Scrypt(passphrase, salt, n, 8, 1));
  std::string box(plaintext.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<uint8_t*>(box.data()),
                        reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(),
                        reinterpret_cast<const uint8_t*>(nonce.data()),
                        reinterpret_cast<const uint8_t*>(key.data()));
  sodium_memzero(key.data(), key.size());
  ordered_json j;
  j["kdf"] = {{"name", "scrypt"}, {"params", {{"N", n}, {"r", 8}, {"p", 1}}}, {"salt", Base64Encode(salt)}};
  j["cipher"] = {{"name", "nacl/secretbox"}, {"nonce", Base64Encode(nonce)}};
  j["ciphertext"] = Base64Encode(box);
  return j.dump();
}

Result<std::string> DecryptWithPassphrase(std::string_view text, std::string_view passphrase) {
  ordered_json j = ordered_json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("kdf") || !j.contains("cipher"))
    return Status::Invalid("encrypted key: not the JSON of an encrypted key");
  const auto& kdf = j["kdf"];
  const auto& cipher = j["cipher"];
  if (kdf.value("name", "") != "scrypt")
    return Status::Invalid("encrypted key: unknown kdf \"" + kdf.value("name", "") + "\"");
  if (cipher.value("name", "") != "nacl/secretbox")
    return Status::Invalid("encrypted key: unknown cipher \"" + cipher.value("name", "") + "\"");
  const auto& params = kdf.value("params", ordered_json::object());
  uint64_t n = params.value("N", 0ull), r = params.value("r", 0ull), p = params.value("p", 0ull);
  if (!KnownScryptParams(n, r, p)) return Status::Invalid("encrypted key: unsupported scrypt parameters");
  ASSIGN_OR_RETURN(std::string salt, B64Field(kdf, "salt"));
  ASSIGN_OR_RETURN(std::string nonce, B64Field(cipher, "nonce"));
  ASSIGN_OR_RETURN(std::string box, B64Field(j, "ciphertext"));
  if (nonce.size() != crypto_secretbox_NONCEBYTES) return Status::Invalid("encrypted key: bad nonce size");
  if (box.size() < crypto_secretbox_MACBYTES) return Status::Invalid("encrypted key: ciphertext too short");
  ASSIGN_OR_RETURN(std::string key, Scrypt(passphrase, salt, n, static_cast<uint32_t>(r), static_cast<uint32_t>(p)));
  std::string plain(box.size() - crypto_secretbox_MACBYTES, '\0');
  int rc = crypto_secretbox_open_easy(reinterpret_cast<uint8_t*>(plain.data()),
                                      reinterpret_cast<const uint8_t*>(box.data()), box.size(),
                                      reinterpret_cast<const uint8_t*>(nonce.data()),
                                      reinterpret_cast<const uint8_t*>(key.data()));
  sodium_memzero(key.data(), key.size());
  if (rc != 0) return Status::Denied("decryption failed (wrong passphrase?)");
  return plain;
}

Result<KeyPair> GenerateKeyPair(std::string_view passphrase) {
  EVP_PKEY* raw = EVP_EC_gen("P-256");
  if (!raw) return Status::Unavailable("generating an ECDSA P-256 key failed");
  PrivateKey priv;
  priv.key = Wrap(raw);
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(raw);
  if (!p8) return Status::Unavailable("encoding the private key failed");
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (len <= 0) return Status::Unavailable("encoding the private key failed");
  std::string pkcs8 = Bytes(der, static_cast<size_t>(len));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  auto body = EncryptWithPassphrase(pkcs8, passphrase);
  OPENSSL_cleanse(pkcs8.data(), pkcs8.size());
  if (!body.ok()) return body.status();
  return KeyPair{PemEncode(kCosignPemType, *body), priv.Public().Pem()};
}

Result<PublicKey> PublicKey::Parse(std::string_view pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* p = PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr);
  if (!p) return Status::Invalid("not a PEM public key (\"PUBLIC KEY\")");
  PublicKey k;
  k.key = Wrap(p);
  return k;
}

bool PublicKey::Verify(std::string_view message, std::string_view sig) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, DigestFor(key->pkey), nullptr, key->pkey) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string PublicKey::Pem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(b.get(), key->pkey);
  return BioString(b.get());
}

Result<PrivateKey> PrivateKey::Load(std::string_view pem, std::string_view passphrase) {
  ASSIGN_OR_RETURN(auto block, PemDecode(pem));
  if (block.first != kCosignPemType && block.first != kSigstorePemType)
    return Status::Invalid("unsupported PEM type \"" + block.first + "\" (want " + kCosignPemType + ")");
  ASSIGN_OR_RETURN(std::string der, DecryptWithPassphrase(block.second, passphrase));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  EVP_PKEY* pkey = p8 ? EVP_PKCS82PKEY(p8) : nullptr;
  PKCS8_PRIV_KEY_INFO_free(p8);
  OPENSSL_cleanse(der.data(), der.size());
  if (!pkey) return Status::Invalid("the decrypted key is not a PKCS#8 private key");
  PrivateKey k;
  k.key = Wrap(pkey);
  return k;
}

Result<std::string> PrivateKey::Sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, DigestFor(key->pkey), nullptr, key->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return Status::Unavailable("signing failed");
  return sig;
}

PublicKey PrivateKey::Public() const {
  PublicKey p;
  p.key = key;  // an EVP_PKEY with the private half also serves as the public key
  return p;
}

}  // namespace cfs::registry::sigstore
