// `ocipipe pull`, and unpack/validate/inspect of docker:// and oci+http://
// references, against Debian's docker-registry started by the test
// (tests/support/registry_fixture.h) into which skopeo pushed debian-slim:
// digests equal to skopeo's own pull into oci:, oci-archive: and
// docker-archive:; plain, TLS + basic and bearer-token registries; a rootfs
// unpacked straight from the registry equal to the layout's; a connection
// dropped mid-blob; an interrupted pull continued by the next run from its
// partial file without fetching finished blobs again; an image layout served
// by a static web server; a foreign layer URL fetched without credentials
// (buglog B61); the state unpack records for pack --diff of such a rootfs;
// the refusals, JSON records and messages of pull, push and copy.

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/dataset_image.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_compare.h"

namespace ocipipe::testing {
namespace {

using test::fault_proxy;
using test::proxy_faults;
using test::registry_auth;
using test::registry_server;
using test::run_skopeo;
using test::static_http_server;

constexpr const char* kSlim = "debian-slim";
// debian-slim as its layout holds it (dataset_image.h: its digests follow Debian's packages).
const dataset_image& slim() {
  static const dataset_image image = read_dataset_image(kSlim);
  return image;
}
constexpr int kSlimBlobs = 6;  // config, four layers, manifest

// The last JSON record of a --json run.
nlohmann::json record_of(const command_result& r) {
  const auto lines = lines_of(r.out);
  if (lines.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(lines.back(), nullptr, false);
}

// The digest of layout `dir`'s only index.json entry.
std::string index_digest(const std::string& dir) {
  const auto j = nlohmann::json::parse(read_bytes(dir + "/index.json"), nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || j["manifests"].size() != 1) return "<bad index.json>";
  return j["manifests"][0].value("digest", "");
}

// "sha256:<hex>" of every file under blobs/sha256 of layout `dir`.
std::set<std::string> blobs_of(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& n : names_in(dir + "/blobs/sha256")) out.insert("sha256:" + n);
  return out;
}

std::uint64_t file_size(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// GET lines of a request log for blob `digest`.
std::size_t blob_gets(const std::vector<std::string>& log, const std::string& digest) {
  return std::count_if(log.begin(), log.end(), [&](const std::string& l) {
    return l.rfind("GET ", 0) == 0 && l.find("/blobs/" + digest) != std::string::npos;
  });
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OCIPIPE_REQUIRE_DATASET(kSlim);
    ASSERT_EQ(slim().error, "");
    ASSERT_GE(slim().layers.size(), 1u);  // the biggest layer comes first
  }

  // A registry of `mode` holding debian-slim as "slim:v1", pushed by skopeo
  // with `skopeo_flags` (its --dest-* flags for that registry).
  std::unique_ptr<registry_server> registry_with_slim(registry_auth mode = registry_auth::none) {
    auto reg = registry_server::start(mode);
    if (!reg) return nullptr;
    std::vector<std::string> args = {"copy"};
    if (mode == registry_auth::basic_tls) {
      args.insert(args.end(), {"--dest-cert-dir", reg->cert_dir(), "--dest-creds", reg->creds()});
    } else {
      args.push_back("--dest-tls-verify=false");
      if (mode == registry_auth::token) args.insert(args.end(), {"--dest-creds", reg->creds()});
    }
    args.insert(args.end(), {dataset_ref(kSlim), reg->ref("slim:v1")});
    std::string err;
    const int rc = run_skopeo(args, &err);
    EXPECT_EQ(rc, 0) << err;
    return rc == 0 ? std::move(reg) : nullptr;
  }

  command_result pull(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"pull", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_ocipipe(argv);
  }

  // ocipipe unpack of debian-slim's local layout, the tree every remote unpack must equal.
  std::string reference_rootfs() {
    const auto dir = tmp_.sub("reference-rootfs");
    const auto r = run_ocipipe({"unpack", "--no-state", dataset_ref(kSlim), dir});
    EXPECT_TRUE(r.ok()) << r.describe();
    return dir;
  }

  void expect_same_tree(const std::string& a, const std::string& b) {
    const auto diffs = compare_trees(a, b);
    EXPECT_TRUE(diffs.empty()) << format_differences(diffs);
  }

  temp_dir tmp_;
};

TEST_F(PullTest, PullIntoOciHasSkopeosDigestAndBlobsAndASecondPullFetchesNothing) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto r = pull({reg->ref("slim:v1"), "oci:" + tmp_.sub("mine") + ":slim"});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rec = record_of(r);
  EXPECT_EQ(rec["type"], "pull");
  EXPECT_EQ(rec["data"]["status"], "ok");
  EXPECT_EQ(rec["data"]["manifest_digest"], slim().manifest_digest);
  EXPECT_EQ(rec["data"]["blobs_copied"], kSlimBlobs);
  EXPECT_EQ(rec["data"]["bytes_resumed"], 0);

  std::string err;
  ASSERT_EQ(run_skopeo({"copy", "--src-tls-verify=false", reg->ref("slim:v1"), "oci:" + tmp_.sub("skopeo") + ":slim"},
                       &err),
            0)
      << err;
  EXPECT_EQ(index_digest(tmp_.sub("mine")), index_digest(tmp_.sub("skopeo")));
  EXPECT_EQ(blobs_of(tmp_.sub("mine")), blobs_of(tmp_.sub("skopeo")));
  EXPECT_FALSE(path_exists(tmp_.sub("mine/.ocipipe-ingest"))) << "nothing left in the ingest area";
  const auto v = run_ocipipe({"validate", "oci:" + tmp_.sub("mine") + ":slim"});
  EXPECT_TRUE(v.ok()) << v.describe();

  const auto again = pull({reg->ref("slim:v1"), "oci:" + tmp_.sub("mine") + ":slim"});
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(record_of(again)["data"]["blobs_copied"], 0) << again.out;
  EXPECT_EQ(record_of(again)["data"]["blobs_skipped"], kSlimBlobs) << again.out;
}

TEST_F(PullTest, PullIntoOciArchiveAndDockerArchiveMatchesSkopeo) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto oa = pull({reg->ref("slim:v1"), "oci-archive:" + tmp_.sub("slim.oci.tar") + ":slim"});
  ASSERT_TRUE(oa.ok()) << oa.describe();
  EXPECT_EQ(record_of(oa)["data"]["manifest_digest"], slim().manifest_digest);
  const auto da = pull({reg->ref("slim:v1"), "docker-archive:" + tmp_.sub("slim.docker.tar") + ":example.com/slim:v1"});
  ASSERT_TRUE(da.ok()) << da.describe();

  // skopeo reads both, and finds the same image it pulls itself.
  const auto theirs = run_command({"skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", reg->ref("slim:v1")});
  ASSERT_TRUE(theirs.ok()) << theirs.describe();
  const auto from_oa =
      run_command({"skopeo", "inspect", "--format", "{{.Digest}}", "oci-archive:" + tmp_.sub("slim.oci.tar") + ":slim"});
  ASSERT_TRUE(from_oa.ok()) << from_oa.describe();
  EXPECT_EQ(from_oa.out, theirs.out);
  const auto cfg = run_command({"skopeo", "inspect", "--config", "--raw", "docker-archive:" + tmp_.sub("slim.docker.tar")});
  ASSERT_TRUE(cfg.ok()) << cfg.describe();
  EXPECT_EQ(sha256_of(cfg.out).str(), slim().config_digest);
}

TEST_F(PullTest, UnpackStraightFromTheRegistryEqualsUnpackOfTheLayout) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto r = run_ocipipe({"unpack", "--json", "--no-state", reg->ref("slim:v1"), tmp_.sub("rootfs")});
  ASSERT_TRUE(r.ok()) << r.describe();
  expect_same_tree(reference_rootfs(), tmp_.sub("rootfs"));
}

TEST_F(PullTest, ValidateAndInspectOfARegistryImage) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto v = run_ocipipe({"validate", "--json", reg->ref("slim:v1")});
  ASSERT_TRUE(v.ok()) << v.describe();
  bool ended_valid = false;
  for (const auto& line : lines_of(v.out)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.value("type", "") == "diagnostic") {
      // Layout rules have nothing to apply to in a registry.
      const std::string rule = j["data"].value("rule", "");
      EXPECT_EQ(rule.rfind("layout.", 0), std::string::npos) << line;
    }
    if (j.value("type", "") == "end") ended_valid = j["data"].value("status", "") == "valid";
  }
  EXPECT_TRUE(ended_valid) << v.out;

  const auto i = run_ocipipe({"inspect", "--json", reg->ref("slim:v1")});
  ASSERT_TRUE(i.ok()) << i.describe();
  const auto rec = record_of(i);
  EXPECT_EQ(rec["type"], "inspect");
  EXPECT_NE(i.out.find(slim().manifest_digest), std::string::npos) << i.out;
  EXPECT_NE(i.out.find(slim().config_digest), std::string::npos) << i.out;

  // By digest as well; a tag that is not there is a clean operational failure.
  const auto by_digest = run_ocipipe({"validate", reg->ref("slim@" + std::string(slim().manifest_digest))});
  EXPECT_TRUE(by_digest.ok()) << by_digest.describe();
  const auto missing = run_ocipipe({"inspect", reg->ref("slim:nope")});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();

  // A registry whose Docker-Content-Digest is not the manifest's: validate
  // says invalid, pull refuses it.
  auto lying = fault_proxy::start(reg->host(), proxy_faults{.wrong_manifest_digest = true});
  ASSERT_TRUE(lying);
  const auto lied = run_ocipipe({"validate", "docker://" + lying->host() + "/slim:v1"});
  EXPECT_EQ(lied.exit_code, 1) << lied.describe();
  const auto p = pull({"docker://" + lying->host() + "/slim:v1", "oci:" + tmp_.sub("lied")});
  EXPECT_EQ(p.exit_code, 2) << p.describe();
  EXPECT_EQ(record_of(p)["data"]["error"]["code"], "digest_mismatch") << p.out;
}

TEST_F(PullTest, BasicAuthOverTlsAndTokenAuthPullsHaveSkopeosDigest) {
  for (const auto mode : {registry_auth::basic_tls, registry_auth::token}) {
    auto reg = registry_with_slim(mode);
    ASSERT_TRUE(reg);
    std::vector<std::string> args = {"--creds", reg->creds()};
    if (mode == registry_auth::basic_tls) args.insert(args.end(), {"--cert-dir", reg->cert_dir()});
    const auto dir = tmp_.sub(mode == registry_auth::token ? "token" : "basic");
    args.insert(args.end(), {reg->ref("slim:v1"), "oci:" + dir + ":slim"});
    const auto r = pull(args);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(index_digest(dir), slim().manifest_digest);
    if (mode == registry_auth::token) EXPECT_FALSE(reg->token_requests().empty());
    // Without credentials the registry says no.
    const auto anon = pull({mode == registry_auth::basic_tls ? "--cert-dir=" + reg->cert_dir() : "--retry-times=0",
                            reg->ref("slim:v1"), "oci:" + dir + "-anon:slim"});
    EXPECT_EQ(anon.exit_code, 2) << anon.describe();
  }
}

TEST_F(PullTest, ConnectionsDroppedMidBlobAreContinued) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  auto proxy = fault_proxy::start(reg->host(), proxy_faults{.drop_after_bytes = 3 << 20, .drop_times = 4});
  ASSERT_TRUE(proxy);
  const auto r = pull({"docker://" + proxy->host() + "/slim:v1", "oci:" + tmp_.sub("out") + ":slim"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(index_digest(tmp_.sub("out")), slim().manifest_digest);
  EXPECT_GE(blob_gets(proxy->requests(), slim().layers.at(0).digest), 2u) << "the big layer was cut and asked for again";
  const auto v = run_ocipipe({"validate", "oci:" + tmp_.sub("out") + ":slim"});
  EXPECT_TRUE(v.ok()) << v.describe();
}

TEST_F(PullTest, AnInterruptedPullIsContinuedByTheNextRunWithoutFetchingFinishedBlobsAgain) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  constexpr long cut = 20 << 20;  // bigger than every layer but the first (63 MB)
  auto cutting = fault_proxy::start(reg->host(), proxy_faults{.drop_after_bytes = cut});
  ASSERT_TRUE(cutting);
  const std::string dst = "oci:" + tmp_.sub("out") + ":slim";
  // No retries: the run fails when the big layer's connection drops.
  const auto first = pull({"-j", "2", "--retry-times", "0", "docker://" + cutting->host() + "/slim:v1", dst});
  ASSERT_EQ(first.exit_code, 2) << first.describe();
  EXPECT_EQ(record_of(first)["data"]["status"], "error");
  const auto partial = tmp_.sub("out/.ocipipe-ingest/partial-sha256-" + std::string(slim().layers.at(0).digest).substr(7));
  const auto kept = file_size(partial);
  ASSERT_GT(kept, 0u) << "the cut layer's bytes are kept in the ingest area";
  EXPECT_LE(kept, static_cast<std::uint64_t>(cut));
  const auto finished = blobs_of(tmp_.sub("out"));
  EXPECT_FALSE(finished.count(slim().layers.at(0).digest));
  EXPECT_FALSE(finished.empty()) << "the smaller layers completed";

  auto watching = fault_proxy::start(reg->host(), {});
  ASSERT_TRUE(watching);
  const auto second = pull({"docker://" + watching->host() + "/slim:v1", dst});
  ASSERT_TRUE(second.ok()) << second.describe();
  const auto rec = record_of(second);
  EXPECT_EQ(rec["data"]["manifest_digest"], slim().manifest_digest);
  EXPECT_EQ(rec["data"]["bytes_resumed"], kept) << second.out;
  const auto log = watching->requests();
  // The image config is read again to plan the pull (it names the layers);
  // no finished layer is.
  for (const auto& d : finished)
    if (d != slim().config_digest) EXPECT_EQ(blob_gets(log, d), 0u) << d << " fetched again";
  EXPECT_EQ(blob_gets(log, slim().layers.at(0).digest), 1u);
  EXPECT_FALSE(path_exists(partial));
  const auto v = run_ocipipe({"validate", dst});
  EXPECT_TRUE(v.ok()) << v.describe();
}

TEST_F(PullTest, StaticWebServerLayoutIsPulledUnpackedAndValidated) {
  // A layout published as it is: three layers, whiteouts, a hardlink.
  auto img = build_layout(tmp_.sub("site/img"), "v1",
                                {layer({dir("etc"), file("etc/a", "a\n"), file("etc/gone", "x"), dir("opt"),
                                        file("opt/keep", "k")}),
                                 layer({file("etc/.wh.gone"), hardlink("etc/b", "etc/a"), symlink("etc/c", "a")},
                                       layer_compression::zstd),
                                 layer({dir("opt"), file("opt/.wh..wh..opq"), file("opt/new", "n\n")},
                                       layer_compression::none)});
  auto web = static_http_server::start(tmp_.sub("site"));
  ASSERT_TRUE(web);
  const std::string ref = "oci+" + web->url() + "/img:v1";

  const auto r = pull({ref, "oci:" + tmp_.sub("out") + ":v1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(record_of(r)["data"]["manifest_digest"], img.manifest_digest.str());
  EXPECT_EQ(blobs_of(tmp_.sub("out")), blobs_of(img.dir));

  const auto u = run_ocipipe({"unpack", "--no-state", ref, tmp_.sub("rootfs")});
  ASSERT_TRUE(u.ok()) << u.describe();
  const auto local = run_ocipipe({"unpack", "--no-state", img.ref_text(), tmp_.sub("local-rootfs")});
  ASSERT_TRUE(local.ok()) << local.describe();
  expect_same_tree(tmp_.sub("local-rootfs"), tmp_.sub("rootfs"));
  EXPECT_EQ(read_bytes(tmp_.sub("rootfs/opt/new")), "n\n");

  const auto c = run_ocipipe({"create", "--no-state", "--args", "/bin/true", ref, tmp_.sub("bundle")});
  ASSERT_TRUE(c.ok()) << c.describe();
  EXPECT_TRUE(path_exists(tmp_.sub("bundle/config.json")));

  const auto v = run_ocipipe({"validate", "--json", ref});
  EXPECT_TRUE(v.ok()) << v.describe();
  for (const auto& line : web->requests()) EXPECT_NE(line.find("auth=no"), std::string::npos) << line;

  // A blob that does not match its digest is caught, and nothing is committed.
  corrupt_layer_byte(img, 0);
  const auto bad = pull({"--retry-times=0", ref, "oci:" + tmp_.sub("bad") + ":v1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
  EXPECT_EQ(record_of(bad)["data"]["error"]["code"], "digest_mismatch") << bad.out;
  EXPECT_FALSE(blobs_of(tmp_.sub("bad")).count(img.layers[0].digest.str()));
  const auto invalid = run_ocipipe({"validate", ref});
  EXPECT_EQ(invalid.exit_code, 1) << invalid.describe();

  // Plain http to a host other than loopback needs --tls-verify=false.
  const auto far = pull({"--retry-times=0", "oci+http://example.invalid/x:y", "oci:" + tmp_.sub("far")});
  EXPECT_EQ(far.exit_code, 2) << far.describe();
}

TEST_F(PullTest, ForeignLayerUrlIsFetchedWithoutRegistryCredentials) {
  // buglog B61: a non-distributable layer named by `urls` on another host;
  // the registry's credentials must never reach that host.
  auto img = build_layout(tmp_.sub("src"), "foreign",
                          {[] {
                            auto l = layer({file("etc/foreign", "from elsewhere\n")});
                            l.media_type = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
                            return l;
                          }()});
  auto web = static_http_server::start(tmp_.sub("src"));
  ASSERT_TRUE(web);
  const auto url = web->url() + "/" + img.layers[0].digest.blob_path();
  edit_manifest(img, [&](nlohmann::ordered_json& m) { m["layers"][0]["urls"] = {url}; });

  auto reg = registry_server::start(registry_auth::basic_tls);
  ASSERT_TRUE(reg);
  std::string err;
  ASSERT_EQ(run_skopeo({"copy", "--dest-cert-dir", reg->cert_dir(), "--dest-creds", reg->creds(), img.ref_text(),
                        reg->ref("foreign:v1")},
                       &err),
            0)
      << err << "(docker-registry 2.8 takes a manifest with layer urls only when its config has "
                "validation.manifests.urls.allow; tests/support/registry_fixture.cpp must set it)";
  const auto r = pull({"--cert-dir", reg->cert_dir(), "--creds", reg->creds(), reg->ref("foreign:v1"),
                       "oci:" + tmp_.sub("out") + ":foreign"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(index_digest(tmp_.sub("out")), img.manifest_digest.str());
  EXPECT_TRUE(blobs_of(tmp_.sub("out")).count(img.layers[0].digest.str()));
  const auto log = web->requests();
  bool fetched = false;
  for (const auto& line : log) {
    EXPECT_NE(line.find("auth=no"), std::string::npos) << "credentials sent to the foreign host: " << line;
    if (line.rfind("GET /" + img.layers[0].digest.blob_path(), 0) == 0) fetched = true;
  }
  EXPECT_TRUE(fetched) << "the layer was read from its URL";

  // create reads a registry image as unpack does, the foreign layer included.
  const auto c = run_ocipipe({"create", "--no-state", "--args", "/bin/true", "--cert-dir", reg->cert_dir(), "--creds", reg->creds(),
                              reg->ref("foreign:v1"), tmp_.sub("bundle")});
  ASSERT_TRUE(c.ok()) << c.describe();
  EXPECT_EQ(read_bytes(tmp_.sub("bundle/rootfs/etc/foreign")), "from elsewhere\n");
  EXPECT_TRUE(path_exists(tmp_.sub("bundle/config.json")));
  for (const auto& line : web->requests()) EXPECT_NE(line.find("auth=no"), std::string::npos) << line;
}

// A registry holding "multi:v1", an image index of an amd64 and an arm64
// image (their layout under tmp/multi); `index` its digest, `amd`/`arm` the images'.
struct multi_registry {
  std::unique_ptr<registry_server> reg;
  digest index;
  built_image amd, arm;
};

multi_registry registry_with_multi(const std::string& dir) {
  const auto amd = build_layout(dir, "amd", {layer({file("etc/arch", "amd64\n")})}, {.architecture = "amd64"});
  const auto arm = build_layout(dir, "arm", {layer({file("etc/arch", "arm64\n")})}, {.architecture = "arm64"});
  nlohmann::ordered_json index = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
         {"digest", amd.manifest_digest.str()},
         {"size", amd.manifest_size},
         {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}},
        {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
         {"digest", arm.manifest_digest.str()},
         {"size", arm.manifest_size},
         {"platform", {{"architecture", "arm64"}, {"os", "linux"}}}}}}};
  const auto bytes = index.dump();
  const auto d = write_blob(arm, bytes);
  nlohmann::ordered_json top = {{"schemaVersion", 2},
                                {"manifests",
                                 {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                   {"digest", d.str()},
                                   {"size", bytes.size()},
                                   {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}}}}};
  write_bytes(dir + "/index.json", top.dump());
  auto reg = registry_server::start(registry_auth::none);
  if (!reg) return {};
  std::string err;
  const int rc = run_skopeo({"copy", "--all", "--dest-tls-verify=false", "oci:" + dir + ":multi", reg->ref("multi:v1")},
                            &err);
  EXPECT_EQ(rc, 0) << err;
  if (rc != 0) return {};

  return {std::move(reg), d, amd, arm};
}

TEST_F(PullTest, AnImageIndexIsNarrowedToTheHostUnlessAllPlatforms) {
  auto m = registry_with_multi(tmp_.sub("multi"));
  ASSERT_TRUE(m.reg);
  auto& reg = m.reg;
  const auto& d = m.index;
  const auto& amd = m.amd;
  const auto& arm = m.arm;
  const auto whole = pull({"--all-platforms", reg->ref("multi:v1"), "oci:" + tmp_.sub("whole") + ":m"});
  ASSERT_TRUE(whole.ok()) << whole.describe();
  EXPECT_EQ(index_digest(tmp_.sub("whole")), d.str());
  EXPECT_EQ(record_of(whole)["data"]["images"], 2);

  const auto arm_only = pull({"--platform", "linux/arm64", reg->ref("multi:v1"), "oci:" + tmp_.sub("arm") + ":m"});
  ASSERT_TRUE(arm_only.ok()) << arm_only.describe();
  EXPECT_EQ(index_digest(tmp_.sub("arm")), arm.manifest_digest.str());
#if defined(__x86_64__)
  const auto host = pull({reg->ref("multi:v1"), "oci:" + tmp_.sub("host") + ":m"});
  ASSERT_TRUE(host.ok()) << host.describe();
  EXPECT_EQ(index_digest(tmp_.sub("host")), amd.manifest_digest.str());
#endif
  const auto both = pull({"--all-platforms", "--platform", "linux/arm64", reg->ref("multi:v1"), "oci:" + tmp_.sub("x")});
  EXPECT_NE(both.exit_code, 0);
}

TEST_F(PullTest, SourceAndDestinationTransportsAreChecked) {
  const auto local = pull({dataset_ref(kSlim), "oci:" + tmp_.sub("x")});
  EXPECT_EQ(local.exit_code, 2) << local.describe();
  EXPECT_EQ(record_of(local)["data"]["error"]["code"], "invalid_argument") << local.out;
  const auto to_registry = pull({"docker://127.0.0.1:1/a:b", "docker://127.0.0.1:1/c:d"});
  EXPECT_EQ(to_registry.exit_code, 2) << to_registry.describe();
  EXPECT_FALSE(path_exists(tmp_.sub("x")));
}

TEST_F(PullTest, AllPlatformsIntoADockerArchiveIsRefusedBeforeAnythingIsWritten) {
  auto m = registry_with_multi(tmp_.sub("multi"));
  ASSERT_TRUE(m.reg);
  const auto archive = tmp_.sub("x.tar");
  const auto r = pull({"--all-platforms", m.reg->ref("multi:v1"), "docker-archive:" + archive});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  const auto rec = record_of(r);
  EXPECT_EQ(rec["data"]["error"]["code"], "invalid_argument") << r.out;
  EXPECT_NE(r.err.find("docker-archive holds one image"), std::string::npos) << r.err;
  EXPECT_FALSE(path_exists(archive));
  // One image is fine: --all-platforms of a single manifest has nothing to narrow.
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto one = pull({"--all-platforms", reg->ref("slim:v1"), "docker-archive:" + tmp_.sub("one.tar")});
  EXPECT_TRUE(one.ok()) << one.describe();
}

TEST_F(PullTest, AnInvalidReferenceGivesAJsonErrorRecordForPullPushAndCopy) {
  for (const std::string verb : {"pull", "push", "copy"}) {
    const std::vector<std::string> args =
        verb == "push" ? std::vector<std::string>{"oci:" + tmp_.sub("js") + ":v1", "docker://127.0.0.1:15001/SLIM"}
                       : std::vector<std::string>{"docker://127.0.0.1:15001/SLIM", "oci:" + tmp_.sub("js") + ":v1"};
    std::vector<std::string> argv = {verb, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_ocipipe(argv);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    const auto rec = record_of(r);
    EXPECT_EQ(rec["type"], verb) << r.out;
    EXPECT_EQ(rec["data"]["status"], "error") << r.out;
    EXPECT_EQ(rec["data"]["error"]["code"], "invalid_argument") << r.out;
    EXPECT_NE(rec["data"]["error"].value("message", "").find("SLIM"), std::string::npos) << r.out;
  }
}

TEST_F(PullTest, CopyBetweenRepositoriesOfOneRegistryReportsTheMountedBlobs) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto r = run_ocipipe({"copy", "--json", reg->ref("slim:v1"), reg->ref("other/slim:v1")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rec = record_of(r);
  EXPECT_EQ(rec["type"], "copy");
  EXPECT_EQ(rec["data"]["blobs_mounted"], kSlimBlobs - 1) << r.out;  // config and four layers
  EXPECT_EQ(rec["data"]["blobs_copied"], 1) << r.out;                 // the manifest
  EXPECT_EQ(rec["data"]["bytes_resumed"], 0) << r.out;
  const auto human = run_ocipipe({"copy", reg->ref("slim:v1"), reg->ref("third/slim:v1")});
  ASSERT_TRUE(human.ok()) << human.describe();
  EXPECT_NE(human.out.find(", 5 mounted"), std::string::npos) << human.out;
}

TEST_F(PullTest, PullErrorsNameTheVerbAndADigestReferenceWithAnAt) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const std::string missing = "sha256:" + std::string(64, '0');
  const auto src = reg->ref("slim@" + missing);
  const auto r = run_ocipipe({"pull", src, "oci:" + tmp_.sub("x")});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.err.find("pull " + src + " to "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("copy "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("slim:" + missing), std::string::npos) << r.err;
}

TEST_F(PullTest, UnpackFromTheRegistryRecordsStateAndPackDiffReadsTheBaseThroughIt) {
  auto reg = registry_with_slim();
  ASSERT_TRUE(reg);
  const auto rootfs = tmp_.sub("rootfs");
  const auto u = run_ocipipe({"unpack", reg->ref("slim:v1"), rootfs});
  ASSERT_TRUE(u.ok()) << u.describe();
  EXPECT_EQ(u.err.find("state."), std::string::npos) << u.err;
  ASSERT_TRUE(path_exists(tmp_.sub("rootfs.ocipipe-state")));

  write_bytes(rootfs + "/etc/added-after-unpack", "hello\n");
  const auto out = "oci:" + tmp_.sub("out") + ":v2";
  const auto p = run_ocipipe({"pack", "--json", "--diff", rootfs, out});
  ASSERT_TRUE(p.ok()) << p.describe();
  const auto rec = record_of(p);
  EXPECT_EQ(rec["data"]["base_layers"], 4) << p.out;
  EXPECT_EQ(rec["data"]["changed"], 2) << p.out;  // the new file and etc/, whose mtime it changed
  const auto v = run_ocipipe({"validate", out});
  EXPECT_TRUE(v.ok()) << v.describe();
}

TEST_F(PullTest, ATarFileGivenAsABareLayoutPathGetsATransportHint) {
  const auto file = tmp_.sub("image.tar");
  write_bytes(file, "not a directory");
  const auto r = run_ocipipe({"push", file, "docker://127.0.0.1:1/x:y"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("(a tar file? use oci-archive: or docker-archive:)"), std::string::npos) << r.err;
}

TEST_F(PullTest, AWebServedLayoutRequestErrorNamesTheRequestOnce) {
  const auto r = run_ocipipe({"pull", "oci+http://127.0.0.1:99999/x", "oci:" + tmp_.sub("x")});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const auto first = r.err.find("GET ");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("GET ", first + 1), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ocipipe::testing
