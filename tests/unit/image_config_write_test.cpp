// stages/image_config_write: a packed image's config is the base config edited in
// place (unknown fields and key order kept), with the new diff_id, a history entry and
// pack's edits; from scratch it has config.md's required fields.

#include "stages/image_config_write.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/image_json.h"

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;

digest sample_diff_id() {
  return *digest::parse("sha256:" + std::string(64, 'a'));
}

image_config_changes base_changes() {
  image_config_changes c;
  c.diff_id = sample_diff_id();
  c.created = "2024-01-02T03:04:05Z";
  c.created_by = "ocipipe pack";
  return c;
}

TEST(ImageConfigWrite, FromScratchHasTheRequiredFieldsAndParses) {
  auto c = base_changes();
  c.os = "linux";
  c.architecture = "amd64";
  auto out = write_image_config(std::nullopt, c);
  ASSERT_TRUE(out) << out.error().message();
  const auto j = json::parse(*out);
  EXPECT_EQ(j.begin().key(), "created");
  EXPECT_EQ(j["os"], "linux");
  EXPECT_EQ(j["architecture"], "amd64");
  EXPECT_EQ(j["rootfs"]["type"], "layers");
  EXPECT_EQ(j["rootfs"]["diff_ids"], json::array({sample_diff_id().str()}));
  ASSERT_EQ(j["history"].size(), 1u);
  EXPECT_EQ(j["history"][0]["created_by"], "ocipipe pack");
  EXPECT_FALSE(j["history"][0].contains("comment"));
  auto parsed = parse_image_config(*out);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->diff_ids.size(), 1u);
}

TEST(ImageConfigWrite, FromScratchNeedsOsAndArchitecture) {
  auto out = write_image_config(std::nullopt, base_changes());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), errc::invalid_argument);
}

TEST(ImageConfigWrite, BaseFieldsAndOrderSurviveAndEditsApply) {
  const std::string base =
      R"({"architecture":"amd64","zzz_vendor":{"keep":[1,2.5,"x"]},"os":"linux",)"
      R"("config":{"Env":["PATH=/bin","A=1","A=2"],"Cmd":["sh"],"StopSignal":"SIGTERM","Labels":null},)"
      R"("rootfs":{"type":"layers","diff_ids":["sha256:)" + std::string(64, 'b') + R"("]},)"
      R"("history":[{"created_by":"base"}],"created":"2020-01-01T00:00:00Z"})";
  auto c = base_changes();
  c.env = {"A=3", "B=4"};
  c.entrypoint = std::vector<std::string>{"/init"};
  c.labels = {{"k", "v"}};
  c.author = "me";
  c.comment = "why";
  c.variant = "";
  auto out = write_image_config(base, c);
  ASSERT_TRUE(out) << out.error().message();
  const auto j = json::parse(*out);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"architecture", "zzz_vendor", "os", "config", "rootfs", "history",
                                            "created", "author"}));
  EXPECT_EQ(j["zzz_vendor"], json::parse(R"({"keep":[1,2.5,"x"]})"));
  EXPECT_EQ(j["config"]["Env"], json::array({"PATH=/bin", "A=3", "A=3", "B=4"})) << "every A replaced";
  EXPECT_EQ(j["config"]["Cmd"], json::array({"sh"}));
  EXPECT_EQ(j["config"]["Entrypoint"], json::array({"/init"}));
  EXPECT_EQ(j["config"]["StopSignal"], "SIGTERM");
  EXPECT_EQ(j["config"]["Labels"], json::parse(R"({"k":"v"})"));
  EXPECT_EQ(j["created"], "2024-01-02T03:04:05Z");
  ASSERT_EQ(j["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(j["rootfs"]["diff_ids"][1], sample_diff_id().str());
  ASSERT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["history"][1], json::parse(R"({"created":"2024-01-02T03:04:05Z","created_by":"ocipipe pack",)"
                                         R"("author":"me","comment":"why"})"));
  EXPECT_FALSE(j.contains("variant"));
}

TEST(ImageConfigWrite, EmptyLayerKeepsDiffIdsAndMarksTheHistoryEntry) {
  const std::string base = R"({"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:)" +
                           std::string(64, 'b') + R"("]},"history":[{"created_by":"base"}]})";
  auto c = base_changes();
  c.empty_layer = true;
  auto out = write_image_config(base, c);
  ASSERT_TRUE(out) << out.error().message();
  const auto j = json::parse(*out);
  EXPECT_EQ(j["rootfs"]["diff_ids"].size(), 1u);
  ASSERT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["history"][1]["empty_layer"], true);
}

TEST(ImageConfigWrite, SameInputSameBytes) {
  const std::string base = R"({"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  auto c = base_changes();
  c.labels = {{"b", "2"}, {"a", "1"}};
  EXPECT_EQ(*write_image_config(base, c), *write_image_config(base, c));
}

TEST(ImageConfigWrite, MalformedBasesAreRefusedNamingTheField) {
  struct bad {
    const char* json;
    const char* field;
  };
  for (const auto& b : {bad{"not json", "JSON"}, bad{"[1]", "object"},
                        bad{R"({"rootfs":{"diff_ids":{}}})", "rootfs.diff_ids"},
                        bad{R"({"history":7})", "history"}, bad{R"({"config":"x"})", "config"},
                        bad{R"({"config":{"Labels":[]}})", "config.Labels"}}) {
    auto c = base_changes();
    c.labels = {{"k", "v"}};
    auto out = write_image_config(std::string_view(b.json), c);
    ASSERT_FALSE(out) << b.json;
    EXPECT_EQ(out.error().code(), errc::malformed);
    EXPECT_NE(out.error().message().find(b.field), std::string::npos) << out.error().message();
  }
}

TEST(ImageConfigWrite, EnvEntryWithoutANameIsRefused) {
  auto c = base_changes();
  c.env = {"NOEQUALS"};
  auto out = write_image_config(std::string_view(R"({"os":"linux"})"), c);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), errc::invalid_argument);
}

}  // namespace
}  // namespace ocipipe
