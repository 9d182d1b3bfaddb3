// Test-only: a small synthetic image for the sbom/ tests -- two layers
// (a whiteout, a file replaced), a dpkg status of two installed packages, a
// file of several chunks with a hard link to it, an empty file, and a tag
// link of the built-in registry -- with its chunks in memory.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "layer/layer_stack.h"
#include "layer/testing/layer_testing.h"

namespace cfs::sbom::testing {

using cfs::testing::Layer;
using cfs::testing::MemoryChunks;

// Gives the last entry of toc the bytes `data`, cut into chunks of `chunk` bytes.
inline void SetData(LayerToc& toc, MemoryChunks& mem, const std::string& data,
                    size_t chunk = 1 << 20) {
  TocEntry& e = toc.entries.back();
  e.size = data.size();
  e.first_chunk = static_cast<uint32_t>(toc.chunks.size());
  for (size_t at = 0; at < data.size(); at += chunk)
    toc.chunks.push_back(mem.Put(data.substr(at, chunk)));
  e.num_chunks = static_cast<uint32_t>(toc.chunks.size()) - e.first_chunk;
}

inline constexpr char kStatus[] =
    "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"
    "Source: zlib\n\n"
    "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n"
    "Description: shell\n multi-line\n";
inline constexpr char kLinkRepo[] =
    "registry/docker/registry/v2/repositories/library/pause/_manifests/tags/3.9/current/link";

class SyntheticImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = std::make_shared<LayerToc>(
        Layer().Dir("etc").File("etc/os-release").File("etc/gone").raw());
    SetData(*base, mem_, "old");
    auto top = std::make_shared<LayerToc>(Layer()
                                              .File("etc/os-release")
                                              .Whiteout("etc/gone")
                                              .Dir("var/lib/dpkg")
                                              .File("var/lib/dpkg/status")
                                              .File("big.bin")
                                              .File("empty")
                                              .Hardlink("big.link", "big.bin")
                                              .File(kLinkRepo)
                                              .raw());
    // Fill data in tar order: os-release, status, big.bin, empty, link.
    auto set = [&](const std::string& name, const std::string& data, size_t chunk = 1 << 20) {
      for (size_t i = 0; i < top->entries.size(); i++)
        if (top->entries[i].name == name) {
          std::swap(top->entries[i], top->entries.back());
          SetData(*top, mem_, data, chunk);
          std::swap(top->entries[i], top->entries.back());
        }
    };
    set("etc/os-release", "ID=debian\n");
    set("var/lib/dpkg/status", kStatus);
    big_ = std::string(10000, 'x') + "tail";
    set("big.bin", big_, 4096);
    set(kLinkRepo, pause_.ToString() + "\n");
    auto stack = LayerStack::Build({base, top});
    ASSERT_TRUE(stack.ok()) << stack.status().message();
    stack_.emplace(std::move(*stack));
  }

  MemoryChunks mem_;
  std::optional<LayerStack> stack_;
  std::string big_;
  Digest pause_ = Digest::Of("pause manifest");
};

}  // namespace cfs::sbom::testing
