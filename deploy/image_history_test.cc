#include "deploy/image_history.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

const ImageRecord kV1{"app:1", "sha256:1111aaaa", "sha256:9999m1"};
const ImageRecord kV2{"app:2", "sha256:2222bbbb", "sha256:8888m2"};
const ImageRecord kV3{"app:3", "sha256:3333cccc", "sha256:7777m3"};

ClusterState Deployed(const ImageRecord& r) {
  return AfterDeploy(std::nullopt, r, "deployed", "", 10);
}

TEST(ImageHistory, UpgradeRecordsThePreviousImage) {
  auto p = PlanUpgrade("c", Deployed(kV1), kV2, 20);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->keep_previous_clusterfile);
  EXPECT_FALSE(p->continues);
  EXPECT_EQ(p->state.state, "upgrading");
  EXPECT_EQ(p->state.image, "app:2");
  EXPECT_EQ(p->state.image_id, kV2.id);
  EXPECT_EQ(p->state.previous.name, "app:1");
  EXPECT_EQ(p->state.previous.id, kV1.id);
  EXPECT_EQ(p->state.previous.manifest, kV1.manifest);
  EXPECT_EQ(p->state.operation, "upgrade-1");
  EXPECT_EQ(OperationStepValue(p->state), "upgrade-1/" + kV2.id);
  ClusterState done = Finished(p->state, 30);
  EXPECT_EQ(done.state, "upgraded");
  EXPECT_EQ(done.previous.id, kV1.id);
}

TEST(ImageHistory, FailedUpgradeIsContinuedAndKeepsThePrevious) {
  auto p = PlanUpgrade("c", Deployed(kV1), kV2, 20);
  ASSERT_TRUE(p.ok());
  ClusterState failed = Failed(p->state, "host 10.0.0.2: plugin x failed", 25);
  EXPECT_EQ(failed.state, "upgrade-failed");
  auto again = PlanUpgrade("c", failed, kV2, 30);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->continues);
  EXPECT_FALSE(again->keep_previous_clusterfile);
  EXPECT_EQ(again->state.operation, "upgrade-1");
  EXPECT_EQ(again->state.previous.id, kV1.id);
  EXPECT_EQ(again->state.detail, "");
  // Another target after a failed upgrade: the previous stays the last good one.
  auto other = PlanUpgrade("c", failed, kV3, 40);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->continues);
  EXPECT_FALSE(other->keep_previous_clusterfile);
  EXPECT_EQ(other->state.previous.id, kV1.id);
  EXPECT_EQ(other->state.operation, "upgrade-2");
}

TEST(ImageHistory, RollbackReturnsToThePreviousAndForgetsIt) {
  ClusterState up = Finished(PlanUpgrade("c", Deployed(kV1), kV2, 20)->state, 30);
  auto rb = PlanRollback("c", up, "", 40);
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(rb->target.id, kV1.id);
  EXPECT_EQ(rb->state.state, "rolling-back");
  EXPECT_EQ(rb->state.operation, "rollback-2");
  EXPECT_EQ(OperationStepValue(rb->state), "rollback-2/" + kV1.id);
  // Failed, then continued with the same operation.
  ClusterState failed = Failed(rb->state, "x", 45);
  EXPECT_EQ(failed.state, "rollback-failed");
  auto again = PlanRollback("c", failed, "", 50);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->continues);
  EXPECT_EQ(again->state.operation, "rollback-2");
  // An upgrade meanwhile is refused.
  auto up2 = PlanUpgrade("c", failed, kV3, 55);
  EXPECT_FALSE(up2.ok());
  EXPECT_NE(up2.status().message().find("unfinished rollback"), std::string::npos);
  ClusterState done = Finished(again->state, 60);
  EXPECT_EQ(done.state, "rolled-back");
  EXPECT_EQ(done.image, "app:1");
  EXPECT_EQ(done.image_id, kV1.id);
  EXPECT_EQ(done.manifest, kV1.manifest);
  EXPECT_TRUE(done.previous.empty());
  auto none = PlanRollback("c", done, "", 70);
  EXPECT_TRUE(none.status().IsNotFound());
  EXPECT_NE(none.status().message().find("no previous image"), std::string::npos);
  // Upgrading again after the rollback: a new operation (its hooks run again).
  auto up3 = PlanUpgrade("c", done, kV2, 80);
  ASSERT_TRUE(up3.ok());
  EXPECT_EQ(up3->state.operation, "upgrade-3");
  EXPECT_EQ(up3->state.previous.id, kV1.id);
}

TEST(ImageHistory, RollbackImageMustBeThePrevious) {
  ClusterState up = Finished(PlanUpgrade("c", Deployed(kV1), kV2, 20)->state, 30);
  EXPECT_TRUE(PlanRollback("c", up, "app:1", 40).ok());
  EXPECT_TRUE(PlanRollback("c", up, "1111aa", 40).ok());
  EXPECT_TRUE(PlanRollback("c", up, "sha256:9999", 40).ok());
  auto wrong = PlanRollback("c", up, "app:3", 40);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "app:3 is not the previous image of cluster c (that is app:1 (sha256:1111aaaa)); "
            "rollback returns to it only: use `cimg upgrade c app:3` to go to another image");
  EXPECT_FALSE(PlanRollback("c", up, "111", 40).ok());  // too short a prefix
  EXPECT_TRUE(PlanRollback("c", std::nullopt, "", 40).status().IsNotFound());
}

TEST(ImageHistory, SameImageContinuesAndDeployForgetsOnChange) {
  ClusterState up = Finished(PlanUpgrade("c", Deployed(kV1), kV2, 20)->state, 30);
  auto same = PlanUpgrade("c", up, kV2, 40);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->continues);  // a re-run after success: every step skipped
  EXPECT_EQ(same->state.previous.id, kV1.id);
  // A re-deploy of the same image keeps the previous; of another, forgets it.
  ClusterState redeploy = AfterDeploy(up, kV2, "deployed", "", 50);
  EXPECT_EQ(redeploy.previous.id, kV1.id);
  EXPECT_EQ(redeploy.operation, "upgrade-1");
  ClusterState other = AfterDeploy(up, kV3, "deploying", "", 60);
  EXPECT_TRUE(other.previous.empty());
  EXPECT_EQ(other.image_id, kV3.id);
  // A first upgrade of a cluster with no recorded image ID records no previous.
  ClusterState old{"deployed", "app:1", "", 5};
  auto p = PlanUpgrade("c", old, kV2, 70);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->state.previous.empty());
  EXPECT_FALSE(p->keep_previous_clusterfile);
}

}  // namespace
}  // namespace cfs::deploy
