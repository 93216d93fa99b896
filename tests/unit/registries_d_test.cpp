// stages/registries_d: containers-registries.d(5) files merged and looked
// up as containers/image does (most specific scope, default-docker, legacy
// "sigstore" keys, a scope defined twice refused), and lookaside URLs.

#include <string>

#include <gtest/gtest.h>

#include "stages/registries_d.h"

namespace ocipipe {
namespace {

registries_d_config load(std::initializer_list<std::pair<const char*, const char*>> files) {
  registries_d_config c;
  for (const auto& [name, text] : files) {
    auto r = merge_registries_d(c, text, name);
    EXPECT_TRUE(r) << name << ": " << r.error().message();
  }
  return c;
}

TEST(RegistriesD, FilesMergeIntoOneConfig) {
  const auto c = load({{"a.yaml", "default-docker:\n  lookaside: file:///var/lib/sigs\n"},
                       {"b.yaml", "docker:\n  registry.example.com:\n    lookaside: https://sigs.example.com\n"
                                  "  quay.io/team:\n    use-sigstore-attachments: true\n"}});
  ASSERT_TRUE(c.default_docker);
  EXPECT_EQ(c.default_docker->lookaside, "file:///var/lib/sigs");
  ASSERT_EQ(c.docker.size(), 2u);
  EXPECT_EQ(c.docker[0].first, "registry.example.com");
  EXPECT_EQ(c.docker[0].second.lookaside, "https://sigs.example.com");
  EXPECT_EQ(c.docker[1].first, "quay.io/team");
  EXPECT_EQ(c.docker[1].second.use_sigstore_attachments, true);
}

TEST(RegistriesD, ScopeDefinedByTwoFilesIsRefused) {
  registries_d_config c;
  ASSERT_TRUE(merge_registries_d(c, "docker:\n  example.com:\n    lookaside: /a\n", "one.yaml"));
  auto r = merge_registries_d(c, "docker:\n  other.io:\n    lookaside: /c\n  example.com:\n    lookaside: /b\n",
                              "two.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().message().find("two.yaml"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("example.com"), std::string::npos) << r.error().message();
  // The refused file changed nothing.
  ASSERT_EQ(c.docker.size(), 1u);
  EXPECT_EQ(c.docker[0].second.lookaside, "/a");

  ASSERT_TRUE(merge_registries_d(c, "default-docker:\n  lookaside: /d\n", "three.yaml"));
  r = merge_registries_d(c, "default-docker:\n  lookaside: /e\n", "four.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_EQ(c.default_docker->lookaside, "/d");

  // Twice in one file too.
  registries_d_config fresh;
  r = merge_registries_d(fresh, "docker:\n  example.com:\n    lookaside: /a\n  example.com:\n    lookaside: /b\n",
                         "dup.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(RegistriesD, MostSpecificScopeWinsAtComponentBoundaries) {
  const auto c = load({{"r.yaml", "default-docker:\n  lookaside: /default\n"
                                  "docker:\n"
                                  "  example.com:\n    lookaside: /host\n"
                                  "  example.com/ns:\n    lookaside: /ns\n    use-sigstore-attachments: false\n"
                                  "  example.com/ns/repo:\n    use-sigstore-attachments: true\n"}});
  auto e = registries_d_lookup(c, "example.com/ns/repo");
  EXPECT_EQ(e.lookaside, "/ns");  // repo's scope sets none: the namespace's
  EXPECT_EQ(e.use_sigstore_attachments, true);
  e = registries_d_lookup(c, "example.com/ns/other");
  EXPECT_EQ(e.lookaside, "/ns");
  EXPECT_EQ(e.use_sigstore_attachments, false);
  e = registries_d_lookup(c, "example.com/nsx/repo");  // "example.com/ns" is no prefix of it
  EXPECT_EQ(e.lookaside, "/host");
  EXPECT_FALSE(e.use_sigstore_attachments);
  e = registries_d_lookup(c, "example.com.evil/ns/repo");
  EXPECT_EQ(e.lookaside, "/default");
}

TEST(RegistriesD, DefaultDockerFillsWhatNoScopeSets) {
  const auto c = load({{"r.yaml", "default-docker:\n  lookaside: /default\n  use-sigstore-attachments: true\n"
                                  "docker:\n  example.com:\n    lookaside: /host\n"}});
  auto e = registries_d_lookup(c, "other.io/x");
  EXPECT_EQ(e.lookaside, "/default");
  EXPECT_EQ(e.use_sigstore_attachments, true);
  e = registries_d_lookup(c, "example.com/x");
  EXPECT_EQ(e.lookaside, "/host");
  EXPECT_EQ(e.use_sigstore_attachments, true);

  const auto empty = load({});
  e = registries_d_lookup(empty, "example.com/x");
  EXPECT_FALSE(e.lookaside);
  EXPECT_FALSE(e.lookaside_staging);
  EXPECT_FALSE(e.use_sigstore_attachments);
}

TEST(RegistriesD, StagingComesFromTheScopeThatNamesAStore) {
  // containers/image writes where the first scope naming any store says:
  // a namespace with only "lookaside" is written there, not to the
  // default's staging store.
  const auto c = load({{"r.yaml", "default-docker:\n  lookaside: /default\n  lookaside-staging: /staging\n"
                                  "docker:\n  example.com:\n    lookaside: /host\n"
                                  "  staged.io:\n    lookaside: /s\n    lookaside-staging: /s-staging\n"}});
  auto e = registries_d_lookup(c, "example.com/x");
  EXPECT_EQ(e.lookaside, "/host");
  EXPECT_FALSE(e.lookaside_staging);
  e = registries_d_lookup(c, "staged.io/x");
  EXPECT_EQ(e.lookaside_staging, "/s-staging");
  e = registries_d_lookup(c, "other.io/x");
  EXPECT_EQ(e.lookaside, "/default");
  EXPECT_EQ(e.lookaside_staging, "/staging");
}

TEST(RegistriesD, LegacySigstoreKeysAreRead) {
  const auto c = load({{"r.yaml", "docker:\n"
                                  "  old.io:\n    sigstore: /old\n    sigstore-staging: /old-staging\n"
                                  "  both.io:\n    sigstore: /legacy\n    lookaside: /new\n"}});
  auto e = registries_d_lookup(c, "old.io/x");
  EXPECT_EQ(e.lookaside, "/old");
  EXPECT_EQ(e.lookaside_staging, "/old-staging");
  e = registries_d_lookup(c, "both.io/x");
  EXPECT_EQ(e.lookaside, "/new");  // the new name wins
}

TEST(RegistriesD, BadFilesAreMalformedNamingFileAndKey) {
  struct bad_case {
    const char* yaml;
    const char* expect;
  };
  for (const auto& [yaml, expect] : std::initializer_list<bad_case>{
           {"docker: [unclosed", "bad.yaml"},
           {"- a list\n- at the top\n", "not a mapping"},
           {"docker:\n  example.com:\n    lookaside: [a, b]\n", "lookaside"},
           {"docker:\n  example.com:\n    use-sigstore-attachments: maybe\n", "use-sigstore-attachments"},
           {"docker:\n  example.com: just a string\n", "example.com"},
           {"default-docker:\n  lookaside-staging: {a: b}\n", "lookaside-staging"},
       }) {
    registries_d_config c;
    auto r = merge_registries_d(c, yaml, "bad.yaml");
    ASSERT_FALSE(r) << yaml;
    EXPECT_EQ(r.error().code(), errc::malformed) << yaml;
    EXPECT_NE(r.error().message().find("bad.yaml"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
  }
}

TEST(RegistriesD, EmptyFileAndUnknownKeysAreFine) {
  registries_d_config c;
  EXPECT_TRUE(merge_registries_d(c, "", "empty.yaml"));
  EXPECT_TRUE(merge_registries_d(c, "# only a comment\n", "comment.yaml"));
  EXPECT_TRUE(merge_registries_d(c, "future-key: 1\ndocker:\n  a.io:\n    lookaside: /a\n    later: x\n", "f.yaml"));
  ASSERT_EQ(c.docker.size(), 1u);
  EXPECT_EQ(c.docker[0].second.lookaside, "/a");
}

TEST(RegistriesD, LookasideSignatureUrl) {
  const std::string hex(64, 'b');
  EXPECT_EQ(lookaside_signature_url("file:///var/lib/sigs", "library/busybox", "sha256:" + hex, 1),
            "file:///var/lib/sigs/library/busybox@sha256=" + hex + "/signature-1");
  EXPECT_EQ(lookaside_signature_url("https://sigs.example.com/", "ns/app", "sha256:" + hex, 12),
            "https://sigs.example.com/ns/app@sha256=" + hex + "/signature-12");
  EXPECT_EQ(lookaside_signature_url("/srv/sigs", "a", "sha512:" + std::string(128, 'c'), 2),
            "/srv/sigs/a@sha512=" + std::string(128, 'c') + "/signature-2");
}

}  // namespace
}  // namespace ocipipe
