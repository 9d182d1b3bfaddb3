#include "deploy/htpasswd.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>

namespace cfs::deploy {
namespace {

// What docker-registry does with a line: the stored hash re-hashes the
// password to itself (crypt_r with the hash as setting).
bool Verifies(const std::string& line, const std::string& password) {
  std::string hash = line.substr(line.find(':') + 1);
  if (!hash.empty() && hash.back() == '\n') hash.pop_back();
  auto data = std::make_unique<crypt_data>();
  const char* again = crypt_r(password.c_str(), hash.c_str(), data.get());
  return again && hash == again;
}

TEST(Htpasswd, BcryptLineThatVerifies) {
  auto line = HtpasswdLine("admin", "s3 cr:et");
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(line->rfind("admin:$2b$10$", 0), 0u) << *line;
  EXPECT_EQ(line->back(), '\n');
  EXPECT_EQ(line->size(), std::string("admin:").size() + 60 + 1);  // bcrypt: 60 characters
  EXPECT_EQ(line->find("s3 cr:et"), std::string::npos);
  EXPECT_TRUE(Verifies(*line, "s3 cr:et"));
  EXPECT_FALSE(Verifies(*line, "s3 cr:eT"));
  EXPECT_FALSE(Verifies(*line, ""));
  // A fresh salt each time.
  auto second = HtpasswdLine("admin", "s3 cr:et");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *line);
  EXPECT_TRUE(Verifies(*second, "s3 cr:et"));
}

TEST(Htpasswd, BadInputRefused) {
  EXPECT_FALSE(HtpasswdLine("", "p").ok());
  EXPECT_FALSE(HtpasswdLine("a:b", "p").ok());
  EXPECT_FALSE(HtpasswdLine("a\nb", "p").ok());
  EXPECT_FALSE(HtpasswdLine("a", "").ok());
  EXPECT_FALSE(HtpasswdLine("a", "p\nq").ok());
  auto long_pw = HtpasswdLine("a", std::string(73, 'x'));
  ASSERT_FALSE(long_pw.ok());
  EXPECT_NE(long_pw.status().message().find("72 bytes"), std::string::npos);
  EXPECT_TRUE(HtpasswdLine("a", std::string(72, 'x')).ok());
}

}  // namespace
}  // namespace cfs::deploy
