// Helpers shared by the conformance suites: real bytes made in the test
// (files, layer tars by the project's WriteTarOfDir, OCI layouts by its
// OciLayoutWriter), and a registry Client over the in-memory fake registry.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "base/io.h"
#include "registry/client.h"
#include "registry/testing/fake_transport.h"
#include "transport/image_source.h"

namespace cfs::conformance {

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % 251 + 1);  // no zero runs
  return s;
}

// Writes files (relative path -> content) under dir.
inline Status WriteTree(const std::string& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [rel, content] : files) {
    std::string path = dir + "/" + rel;
    RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/'))));
    RETURN_IF_ERROR(WriteFileAtomic(path, content));
  }
  return Status::Ok();
}

// The uncompressed layer tar of files, made by WriteTarOfDir under scratch.
inline Result<std::string> LayerTar(const std::string& scratch,
                                    const std::map<std::string, std::string>& files) {
  std::string tree = scratch + "/tree-" + RandomHex(8);
  RETURN_IF_ERROR(WriteTree(tree, files));
  RETURN_IF_ERROR(WriteTarOfDir(tree, tree + ".tar"));
  auto tar = ReadFile(tree + ".tar", 64 << 20);
  RETURN_IF_ERROR(RemoveTree(tree));
  ::unlink((tree + ".tar").c_str());
  return tar;
}

// Everything a ByteSource yields.
inline Result<std::string> Drain(ByteSource& src) {
  std::string out, buf(64 << 10, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t n, src.Read(buf.data(), buf.size()));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

// A client of the fake registry "fake.test" (no retries wait: 1 ms backoff).
inline std::shared_ptr<registry::Client> FakeClient(
    std::shared_ptr<registry::testing::FakeTransport> fake) {
  registry::ClientOptions o;
  o.transport = std::move(fake);
  o.creds = registry::Credentials{};
  o.backoff_ms = 1;
  auto c = registry::Client::Create("fake.test", o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::shared_ptr<registry::Client>(std::move(*c)) : nullptr;
}

}  // namespace cfs::conformance
