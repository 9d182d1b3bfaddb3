// Opening an image to read its files without a mount (an image of the store,
// or a registry image read lazily): what cimg ls/cat/cp/export and cimg sbom
// share. Included by tools/cimg*.cc only.
#pragma once

#include <memory>
#include <string>

#include "lazy/readable_image.h"
#include "tools/cimg_common.h"

namespace cimg {

// The flags of a command that reads a registry image: pull's, and --platform.
struct SourceFlags : RegistryFlags {
  std::string platform;
  void Add(CLI::App* c) {
    RegistryFlags::Add(c);
    c->add_option(
        "--platform", platform,
        "os/arch[/variant] to pick from a registry index or a stored image list (default: this host)");
  }
};

// Opens name (ReadableImage::Open), failing the command on an error.
std::unique_ptr<cfs::lazy::ReadableImage> OpenImage(cfs::Store& store, const std::string& name,
                                                    const SourceFlags& reg);  // cimg_browse.cc

}  // namespace cimg
