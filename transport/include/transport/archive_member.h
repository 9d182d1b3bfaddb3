// One regular file of a tar archive, read without unpacking the rest (the
// other members are skipped): what `cimg load` reads of an oci-archive's
// index.json to tell an image list from images before it unpacks anything.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"

namespace cfs {

// The bytes of member `name` ("index.json", or "./index.json" in the
// archive) of the tar (any compression libarchive reads) at `file`;
// nullopt when there is no such member. Invalid when the file is not a tar,
// or the member is not a regular file or is larger than max_size.
Result<std::optional<std::string>> ReadArchiveMember(const std::string& file,
                                                     const std::string& name,
                                                     size_t max_size = 64u << 20);

}  // namespace cfs
