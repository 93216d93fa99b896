// stages/docker_save.h: RepoTags normalized as Docker does, and the docker-archive
// metadata in the shape skopeo writes (manifest.json, repositories, legacy layer ids
// chained base first, Go's JSON escaping).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/digester.h"
#include "stages/docker_save.h"

namespace ocipipe {
namespace {

digest sha(std::string_view s) { return digester::of(std::as_bytes(std::span(s.data(), s.size()))); }

TEST(docker_repo_tag, short_names_are_docker_hub_library_images_tagged_latest) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"debian", "docker.io/library/debian:latest"},
      {"debian:12", "docker.io/library/debian:12"},
      {"user/app:v1.2", "docker.io/user/app:v1.2"},
      {"index.docker.io/library/x:1", "docker.io/library/x:1"},
      {"example.com/a/b", "example.com/a/b:latest"},
      {"localhost/app:1", "localhost/app:1"},
      {"localhost:5000/app:1", "localhost:5000/app:1"},
      {"registry.example.com:5000/team/app:1.0-rc_1", "registry.example.com:5000/team/app:1.0-rc_1"},
      {"a__b/c-d/e.f:x", "docker.io/a__b/c-d/e.f:x"},
  };
  for (const auto& [in, want] : cases) {
    auto t = normalize_docker_repo_tag(in);
    ASSERT_TRUE(t) << in << ": " << t.error().message();
    EXPECT_EQ(t->str(), want) << in;
  }
}

TEST(docker_repo_tag, invalid_names_tags_and_digests_are_refused) {
  for (const std::string in : {"", "Upper", "docker.io/Upper:1", "a//b", "-a", "a-", "a:", "a:.x", "a:-x",
                               "debian@sha256:0123456789012345678901234567890123456789012345678901234567890123",
                               "a:b:c", "bad host/x"}) {
    auto t = normalize_docker_repo_tag(in);
    EXPECT_FALSE(t) << in << " -> " << (t ? t->str() : "");
    if (!t) {
      EXPECT_EQ(t.error().code(), errc::invalid_argument) << in;
    }
  }
}

TEST(docker_save_metadata, manifest_and_repositories_as_skopeo_writes_them) {
  const std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh","-c","a && b <c>"]},)"
                             R"("rootfs":{"type":"layers","diff_ids":[]}})";
  const auto cfg_digest = sha(config);
  const std::vector<digest> diff_ids = {sha("layer0"), sha("layer1")};
  auto tag = normalize_docker_repo_tag("app:1");
  ASSERT_TRUE(tag);
  auto m = make_docker_save_metadata(config, cfg_digest, diff_ids, {*tag});
  ASSERT_TRUE(m) << m.error().message();
  const auto hex = [](const digest& d) { return std::string(d.encoded()); };
  EXPECT_EQ(m->config_member, hex(cfg_digest) + ".json");
  EXPECT_EQ(m->manifest_json, R"([{"Config":")" + hex(cfg_digest) + R"(.json","RepoTags":["docker.io/library/app:1"],)" +
                                  R"("Layers":[")" + hex(diff_ids[0]) + R"(.tar",")" + hex(diff_ids[1]) + R"(.tar"]}])");
  ASSERT_EQ(m->legacy_layers.size(), 2u);
  const auto& base = m->legacy_layers[0];
  const auto& top = m->legacy_layers[1];
  EXPECT_EQ(m->repositories, R"({"docker.io/library/app":{"1":")" + top.id + R"("}})");
  EXPECT_EQ(base.layer_file, hex(diff_ids[0]) + ".tar");
  EXPECT_EQ(base.json, R"({"id":")" + base.id + R"("})");
  // The top layer: seven config fields (missing ones null), keys sorted, HTML characters
  // escaped as Go's encoding/json does.
  EXPECT_EQ(top.json, R"({"architecture":"amd64","config":{"Cmd":["sh","-c","a \u0026\u0026 b \u003cc\u003e"]},)"
                      R"("container":null,"container_config":null,"created":null,"docker_version":null,"id":")" +
                          top.id + R"(","os":"linux","parent":")" + base.id + R"("})");
  // Ids are the digest of the legacy config with the chain id in it (layer.CreateChainID).
  EXPECT_EQ(base.id, std::string(sha(R"({"layer_id":")" + diff_ids[0].str() + R"("})").encoded()));
  EXPECT_NE(base.id, top.id);
}

TEST(docker_save_metadata, untagged_archive_has_empty_repo_tags_and_repositories) {
  const std::string config = R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  auto m = make_docker_save_metadata(config, sha(config), {sha("l")}, {});
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_NE(m->manifest_json.find(R"("RepoTags":[])"), std::string::npos) << m->manifest_json;
  EXPECT_EQ(m->repositories, "{}");
}

TEST(docker_save_metadata, config_that_is_not_an_object_is_malformed) {
  auto m = make_docker_save_metadata("[1]", sha("[1]"), {}, {});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), errc::malformed);
}

}  // namespace
}  // namespace ocipipe
