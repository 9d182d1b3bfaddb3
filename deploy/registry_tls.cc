#include "deploy/registry_tls.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <vector>

#include "base/io.h"

namespace cfs::deploy {

namespace {

constexpr long kValidDays = 3650;
constexpr long kRenewBeforeDays = 30;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

Status SslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::Invalid("registry TLS: " + what + ": " + buf);
}

bool IsIp(const std::string& s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
}

Result<KeyPtr> NewKey() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) return SslError("generating a P-256 key");
  return k;
}

Result<std::string> BioText(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  if (n < 0) return SslError("reading a memory BIO");
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> CertPem(X509* c) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_X509(b.get(), c) != 1) return SslError("writing a certificate");
  return BioText(b.get());
}

Result<std::string> KeyPem(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError("writing a private key");
  return BioText(b.get());
}

Result<CertPtr> ParseCert(const std::string& pem, const std::string& path) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr c(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!c) return SslError(path + " is not a PEM certificate");
  return c;
}

Result<KeyPtr> ParseKey(const std::string& pem, const std::string& path) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr k(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!k) return SslError(path + " is not a PEM private key");
  return k;
}

// An extension in OpenSSL's config syntax (constant values only: data
// from the Clusterfile goes through AddSubjectAltName).
Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return SslError(std::string("adding extension ") + OBJ_nid2sn(nid));
  return Status::Ok();
}

Status AddName(GENERAL_NAMES* names, const std::string& value) {
  GENERAL_NAME* g = GENERAL_NAME_new();
  if (!g) return SslError("allocating a name");
  if (IsIp(value)) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(value.c_str());
    if (!ip) {
      GENERAL_NAME_free(g);
      return SslError("address " + value);
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (!dns || ASN1_STRING_set(dns, value.data(), static_cast<int>(value.size())) != 1) {
      ASN1_IA5STRING_free(dns);
      GENERAL_NAME_free(g);
      return SslError("name " + value);
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, dns);
  }
  sk_GENERAL_NAME_push(names, g);
  return Status::Ok();
}

Status AddSubjectAltName(X509* cert, const std::vector<std::string>& sans) {
  std::unique_ptr<GENERAL_NAMES, Free> names(sk_GENERAL_NAME_new_null());
  if (!names) return SslError("allocating names");
  for (const std::string& n : sans) RETURN_IF_ERROR(AddName(names.get(), n));
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return SslError("adding subjectAltName");
  return Status::Ok();
}

// A certificate for `key` named CN=`cn`, valid from an hour ago (clock skew
// between hosts) for kValidDays, with a random 127-bit serial; not signed.
Result<CertPtr> NewCert(EVP_PKEY* key, const std::string& cn) {
  CertPtr c(X509_new());
  std::unique_ptr<BIGNUM, Free> serial(BN_new());
  if (!c || !serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c.get())) ||
      X509_set_version(c.get(), X509_VERSION_3) != 1 ||
      !X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(c.get()), kValidDays * 86400) ||
      X509_set_pubkey(c.get(), key) != 1)
    return SslError("making a certificate");
  X509_NAME* name = X509_get_subject_name(c.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1)
    return SslError("setting CN " + cn);
  return c;
}

Result<CertPtr> MakeCa(EVP_PKEY* key, const std::string& cluster) {
  ASSIGN_OR_RETURN(CertPtr c, NewCert(key, "cimg registry CA " + cluster));
  if (X509_set_issuer_name(c.get(), X509_get_subject_name(c.get())) != 1)
    return SslError("setting the CA's issuer");
  RETURN_IF_ERROR(AddExt(c.get(), c.get(), NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExt(c.get(), c.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExt(c.get(), c.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(c.get(), key, EVP_sha256()) <= 0) return SslError("signing the CA");
  return c;
}

Result<CertPtr> MakeServerCert(EVP_PKEY* key, X509* ca, EVP_PKEY* ca_key,
                               const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(CertPtr c, NewCert(key, names.front()));
  if (X509_set_issuer_name(c.get(), X509_get_subject_name(ca)) != 1)
    return SslError("setting the issuer");
  RETURN_IF_ERROR(AddExt(c.get(), ca, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExt(c.get(), ca, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  RETURN_IF_ERROR(AddExt(c.get(), ca, NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(AddExt(c.get(), ca, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExt(c.get(), ca, NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddSubjectAltName(c.get(), names));
  if (X509_sign(c.get(), ca_key, EVP_sha256()) <= 0) return SslError("signing the certificate");
  return c;
}

// The subjectAltName entries of cert (DNS names as written, IPs in
// canonical text), sorted.
std::vector<std::string> SanSet(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, Free> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); i++) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* d = g->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)),
                       static_cast<size_t>(ASN1_STRING_length(d)));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* a = g->d.iPAddress;
      int len = ASN1_STRING_length(a);
      char text[INET6_ADDRSTRLEN] = "";
      if (len == 4 || len == 16)
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(a), text, sizeof text);
      out.emplace_back(text);
    } else {
      out.emplace_back("?");  // another kind of name: not ours, make it anew
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Whether server.crt can stay: signed by the CA, for exactly `names`, and
// not expiring within kRenewBeforeDays.
bool ServerCertFits(X509* cert, X509* ca, std::vector<std::string> names) {
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca);
  if (!ca_pub || X509_verify(cert, ca_pub) != 1) {
    ERR_clear_error();
    return false;
  }
  time_t soon = std::time(nullptr) + kRenewBeforeDays * 86400;
  std::sort(names.begin(), names.end());
  return SanSet(cert) == names && X509_cmp_time(X509_get0_notAfter(cert), &soon) > 0;
}

struct Ca {
  CertPtr cert;
  KeyPtr key;
  std::string pem;
};

// The CA in dir, made first when ca.crt or ca.key is missing.
Result<Ca> LoadOrMakeCa(const std::string& dir, const std::string& cluster) {
  const std::string crt = dir + "/ca.crt", key = dir + "/ca.key";
  Ca ca;
  if (PathExists(crt) && PathExists(key)) {
    ASSIGN_OR_RETURN(ca.pem, ReadFile(crt));
    ASSIGN_OR_RETURN(ca.cert, ParseCert(ca.pem, crt));
    ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key));
    ASSIGN_OR_RETURN(ca.key, ParseKey(key_pem, key));
    if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1)
      return SslError(key + " is not the key of " + crt + " (remove both to make a new CA)");
    return ca;
  }
  ASSIGN_OR_RETURN(ca.key, NewKey());
  ASSIGN_OR_RETURN(ca.cert, MakeCa(ca.key.get(), cluster));
  ASSIGN_OR_RETURN(std::string key_pem, KeyPem(ca.key.get()));
  ASSIGN_OR_RETURN(ca.pem, CertPem(ca.cert.get()));
  RETURN_IF_ERROR(WriteFileAtomic(key, key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(crt, ca.pem, 0644));
  return ca;
}

// server.crt and server.key of dir when they fit; else made anew.
Status LoadOrMakeServer(const std::string& dir, Ca& ca, const std::vector<std::string>& names,
                        RegistryTls* out) {
  const std::string crt = dir + "/server.crt", key = dir + "/server.key";
  if (PathExists(crt) && PathExists(key)) {
    ASSIGN_OR_RETURN(out->server_pem, ReadFile(crt));
    ASSIGN_OR_RETURN(out->server_key_pem, ReadFile(key));
    ASSIGN_OR_RETURN(CertPtr cert, ParseCert(out->server_pem, crt));
    ASSIGN_OR_RETURN(KeyPtr k, ParseKey(out->server_key_pem, key));
    if (X509_check_private_key(cert.get(), k.get()) == 1 &&
        ServerCertFits(cert.get(), ca.cert.get(), names))
      return Status::Ok();
    ERR_clear_error();
  }
  ASSIGN_OR_RETURN(KeyPtr k, NewKey());
  ASSIGN_OR_RETURN(CertPtr cert, MakeServerCert(k.get(), ca.cert.get(), ca.key.get(), names));
  ASSIGN_OR_RETURN(out->server_key_pem, KeyPem(k.get()));
  ASSIGN_OR_RETURN(out->server_pem, CertPem(cert.get()));
  RETURN_IF_ERROR(WriteFileAtomic(key, out->server_key_pem, 0600));
  return WriteFileAtomic(crt, out->server_pem, 0644);
}

}  // namespace

Result<RegistryTls> EnsureRegistryTls(const std::string& dir, const std::string& cluster,
                                      const std::vector<std::string>& names) {
  if (names.empty()) return Status::Invalid("registry TLS: no name for the certificate");
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (chmod(dir.c_str(), 0700) != 0) return Status::IOError("chmod " + dir);
  ASSIGN_OR_RETURN(Ca ca, LoadOrMakeCa(dir, cluster));
  RegistryTls tls;
  tls.ca_pem = ca.pem;
  RETURN_IF_ERROR(LoadOrMakeServer(dir, ca, names, &tls));
  return tls;
}

}  // namespace cfs::deploy
