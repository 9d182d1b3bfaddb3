// Test helper: each edit of a good Clusterfile text makes ParseClusterfile
// fail with a message containing the case's words.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "deploy/clusterfile.h"

namespace cfs::deploy::testing {

struct BadEdit {
  std::string from, to;  // the first `from` in the text becomes `to`
  std::string want;      // in the error message
};

inline void ExpectEditsFail(const std::string& good, const std::vector<BadEdit>& cases) {
  for (const auto& c : cases) {
    std::string text = good;
    size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto cf = ParseClusterfile(text, "Clusterfile");
    ASSERT_FALSE(cf.ok()) << c.want;
    EXPECT_NE(cf.status().message().find(c.want), std::string::npos) << cf.status().message();
  }
}

}  // namespace cfs::deploy::testing
