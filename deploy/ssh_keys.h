// What SshSession reads of OpenSSH's key files itself, beyond libssh2:
// known_hosts host fields and markers, and the type of a private key.
//
// known_hosts markers (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
//   @revoked PATTERNS KEYTYPE BASE64   the key must never be accepted, for
//                                      any host the patterns match;
//   @cert-authority PATTERNS ...       a CA for host certificates. libssh2
//                                      1.10 cannot check host certificates,
//                                      so these lines are ignored; a host
//                                      known only through one is "not found",
//                                      and the error says why.
// Patterns: comma-separated, `*` and `?` wildcards, `!` negation, hashed
// (|1|salt|hash) entries; "[host]:port" for ports other than 22.
#pragma once

#include <string>

namespace cfs::deploy {

// Whether a known_hosts host field names `name` ("host" for port 22, else
// "[host]:port"). With `wildcards`, `*`/`?` patterns and `!` negations count
// (marker lines); plain entries are matched exactly, as libssh2 does.
bool HostFieldMatches(const std::string& field, const std::string& name, bool wildcards = false);

// The 1-based line of `known_hosts` (the file's text) that marks `key` (the
// raw key blob the host offers) @revoked for `name`; 0 if none.
int RevokedLine(const std::string& known_hosts, const std::string& name, const std::string& key);

// The 1-based line of the first @cert-authority entry for `name`; 0 if none.
int CertAuthorityLine(const std::string& known_hosts, const std::string& name);

// The key type of a private key file's text ("ssh-rsa", "ssh-ed25519",
// "ecdsa-sha2-nistp256", ...): from a PEM "RSA PRIVATE KEY"/"EC PRIVATE KEY"
// header, or the public part of an OpenSSH key (readable without the
// passphrase); else from `pub`, the text of the .pub file beside it, if any;
// "" when unknown.
std::string PrivateKeyType(const std::string& key_text, const std::string& pub_text);

}  // namespace cfs::deploy
