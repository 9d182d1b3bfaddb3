// cimg sign and generate-key, and the signing of push
// (--sign-by-sigstore-private-key): sigstore signatures as skopeo and cosign
// write them (registry/sigstore.h). Argument parsing and printing only.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "base/io.h"
#include "registry/reference.h"
#include "registry/sigstore.h"
#include "registry/sigstore_attachments.h"
#include "registry/sigstore_key.h"
#include "tools/cimg_common.h"
#include "tools/version.h"

namespace cimg {

namespace {

namespace sig = cfs::registry::sigstore;

// One line typed on the terminal without echo (prompt on stderr).
cfs::Result<std::string> Prompt(const std::string& prompt) {
  std::fprintf(stderr, "%s", prompt.c_str());
  termios old{};
  const bool tty = ::tcgetattr(0, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(0, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) ::tcsetattr(0, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  if (!got) return Status::Invalid("no passphrase typed");
  return line;
}

// The passphrase: the first line of FILE ("-": stdin), else $COSIGN_PASSWORD
// (cosign's variable), else typed on the terminal (twice when `confirm`);
// never a command-line argument.
cfs::Result<std::string> Passphrase(const std::string& file, const char* flag, bool confirm = false) {
  std::string text;
  if (file == "-") {
    std::getline(std::cin, text);
  } else if (!file.empty()) {
    ASSIGN_OR_RETURN(text, cfs::ReadFile(file, 1 << 20));
    text = text.substr(0, text.find('\n'));
  } else if (const char* env = std::getenv("COSIGN_PASSWORD")) {
    text = env;
  } else if (::isatty(0)) {
    ASSIGN_OR_RETURN(text, Prompt("Passphrase: "));
    if (confirm) {
      ASSIGN_OR_RETURN(std::string again, Prompt("Passphrase again: "));
      if (again != text) return Status::Invalid("the passphrases differ");
    }
  } else {
    return Status::Invalid(std::string("a passphrase is needed: ") + flag +
                           " FILE (- for stdin), $COSIGN_PASSWORD, or a terminal");
  }
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::string TmpDir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// cimg generate-key
void AddGenerateKeyCommand(CLI::App& app) {
  static auto* c = app.add_subcommand("generate-key", "Generate a sigstore key pair (PREFIX.private, PREFIX.pub)");
  static std::string prefix, pass_file;
  c->add_option("--output-prefix", prefix, "Write PREFIX.private (encrypted) and PREFIX.pub")->required();
  c->add_option("--passphrase-file", pass_file,
                "Read the passphrase from the first line of this file (- for stdin; default $COSIGN_PASSWORD, else asked on the terminal)");
  c->footer("An ECDSA P-256 key pair as skopeo generate-sigstore-key and cosign write it: the private\n"
            "key encrypted with the passphrase (scrypt + nacl/secretbox, PEM ENCRYPTED COSIGN PRIVATE KEY),\n"
            "the public key as a PEM PUBLIC KEY for policy.json's sigstoreSigned keyPath.\n\n"
            "Examples:\n  cimg generate-key --output-prefix mykey --passphrase-file pass.txt\n"
            "  COSIGN_PASSWORD=... cimg generate-key --output-prefix /etc/cimg/release");
  c->callback([&] {
    const std::string priv = prefix + ".private", pub = prefix + ".pub";
    for (const auto& f : {priv, pub})
      if (cfs::PathExists(f)) Fail(Status::Exists(f + " already exists"));
    std::string pass = Must(Passphrase(pass_file, "--passphrase-file", true));
    auto pair = Must(sig::GenerateKeyPair(pass));
    Must(cfs::WriteFileAtomic(priv, pair.private_pem, 0600));
    Must(cfs::WriteFileAtomic(pub, pair.public_pem, 0644));
    std::printf("Key written to %s and %s\n", priv.c_str(), pub.c_str());
  });
}

// cimg sign
void AddSignCommand(CLI::App& app) {
  static auto* c = app.add_subcommand("sign", "Add a sigstore signature to an image in a registry");
  static std::string name;
  static SignFlags flags;
  static RegistryFlags reg;
  c->add_option("IMAGE", name, "[docker://]REGISTRY/REPO[:TAG|@DIGEST]")->required();
  flags.Add(c);
  reg.Add(c);
  c->footer("Signs the manifest IMAGE names as IMAGE, stored as skopeo and cosign store it (the\n"
            "sha256-<digest>.sig tag of the repository).\n\n"
            "Examples:\n  cimg sign 127.0.0.1:5000/app:1 --sign-by-sigstore-private-key key.private \\\n"
            "      --sign-passphrase-file pass.txt --tls-verify=false");
  c->callback([&] {
    if (flags.key.empty()) Fail(Status::Invalid("sign: --sign-by-sigstore-private-key is required"));
    auto ref = Must(cfs::registry::Reference::Parse(name));
    auto key = Must(LoadSigningKey(flags));
    auto client = reg.Connect(ref.registry);
    auto m = Must(client->GetManifest(ref.repository, ref.ManifestRef()));
    Must(SignInRegistry(flags, key, *client, ref, m.digest));
    std::printf("Signed %s (%s)\n", ref.ToString().c_str(), m.digest.ToString().c_str());
  });
}

}  // namespace

void SignFlags::Add(CLI::App* c) {
  c->add_option("--sign-by-sigstore-private-key", key,
                "Sign with this sigstore private key (cimg generate-key, skopeo, cosign)");
  c->add_option("--sign-passphrase-file", passphrase_file,
                "The key's passphrase: first line of this file (- for stdin; default $COSIGN_PASSWORD, else asked on the terminal)");
  c->add_option("--sign-identity", identity,
                "The reference the signature names (default: the destination)");
}

cfs::Result<sig::PrivateKey> LoadSigningKey(const SignFlags& f) {
  ASSIGN_OR_RETURN(std::string pem, cfs::ReadFile(f.key, 1 << 20));
  ASSIGN_OR_RETURN(std::string pass, Passphrase(f.passphrase_file, "--sign-passphrase-file"));
  auto key = sig::PrivateKey::Load(pem, pass);
  if (!key.ok()) return key.status().Prefix(f.key);
  return key;
}

Status SignInRegistry(const SignFlags& f, const sig::PrivateKey& key, cfs::registry::Client& client,
                      const cfs::registry::Reference& ref, const cfs::Digest& manifest) {
  std::string identity = ref.ToString();
  if (!f.identity.empty()) {
    ASSIGN_OR_RETURN(auto id, cfs::registry::Reference::Parse(f.identity));
    identity = id.ToString();
  }
  ASSIGN_OR_RETURN(sig::Signature s, sig::Sign(key, manifest, identity, "cimg " + CurrentVersion().version));
  return sig::PutSignature(client, ref.repository, manifest, s, TmpDir());
}

void AddSignCommands(CLI::App& app) {
  AddGenerateKeyCommand(app);
  AddSignCommand(app);
}

}  // namespace cimg
