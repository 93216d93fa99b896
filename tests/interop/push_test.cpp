// `ocipipe push` (and `copy` to docker://) against Debian's docker-registry started by the
// test (tests/support/registry_fixture.h), checked with skopeo: debian-slim pushed in plain
// HTTP, TLS + basic auth and bearer-token modes and pulled back by skopeo with the same
// manifest digest; a second push uploads nothing; oci-archive and docker-archive sources; a
// multi-platform image index, narrowed or whole; blobs mounted from another repository; a
// push stopped (SIGTERM) after the first chunk of a blob resumes without sending finished blobs
// again, and recorded sessions that are gone or point at another origin are not followed;
// 503s on writes are retried.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/upload_state.h"
#include "tests/support/dataset_image.h"
#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

extern char** environ;

namespace ocipipe::testing {
namespace {

using test::registry_auth;
using test::registry_server;
using test::run_skopeo;

constexpr const char* kSlim = "debian-slim";
// debian-slim as its layout holds it, with its two big layers first (dataset_image.h:
// its digests follow Debian's packages).
const dataset_image& slim() {
  static const dataset_image image = read_dataset_image(kSlim);
  return image;
}
constexpr int kSlimBlobs = 5;  // config and four layers

// The one JSON record of a --json run.
nlohmann::json record_of(const command_result& r) {
  const auto lines = lines_of(r.out);
  if (lines.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(lines.back(), nullptr, false);
}

// The digest index.json of layout `dir` names (its only entry).
std::string index_digest(const std::string& dir) {
  const auto j = nlohmann::json::parse(read_bytes(dir + "/index.json"), nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || j["manifests"].size() != 1) return "<bad index.json>";
  return j["manifests"][0].value("digest", "");
}

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OCIPIPE_REQUIRE_DATASET(kSlim);
    ASSERT_EQ(slim().error, "");
    ASSERT_EQ(slim().layers.size(), 4u);
  }

  // ocipipe push --json with the upload state kept in the test's directory.
  command_result push(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"push", "--json", "--upload-state-dir", tmp_.sub("uploads")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_ocipipe(argv);
  }

  // skopeo copy of `ref` into a fresh layout; returns the digest it names ("" on failure).
  std::string skopeo_pull(const std::string& ref, const std::vector<std::string>& src_flags,
                          const std::string& name) {
    std::vector<std::string> args = {"copy"};
    args.insert(args.end(), src_flags.begin(), src_flags.end());
    args.push_back(ref);
    args.push_back("oci:" + tmp_.sub(name) + ":pulled");
    std::string err;
    const int rc = run_skopeo(args, &err);
    EXPECT_EQ(rc, 0) << err;
    if (rc != 0) return "";
    return index_digest(tmp_.sub(name));
  }

  // skopeo inspect --raw: the document's bytes as the registry serves them.
  std::string skopeo_raw(const std::string& ref) {
    const auto r = run_command({"skopeo", "inspect", "--raw", "--tls-verify=false", ref});
    EXPECT_TRUE(r.ok()) << r.describe();
    return r.out;
  }

  // Pushes debian-slim to a registry of `mode` with the flags `flags` gives for it, pulls it
  // back with skopeo using `skopeo_flags`'s, and checks both digests; then pushes again and
  // checks that nothing was uploaded.
  using flags_for = std::function<std::vector<std::string>(const registry_server&)>;
  void push_and_pull_back(registry_auth mode, const flags_for& flags, const flags_for& skopeo_flags) {
    auto reg = registry_server::start(mode);
    ASSERT_TRUE(reg);
    const auto dst = reg->ref("library/slim:v1");
    std::vector<std::string> args = flags(*reg);
    args.push_back(dataset_ref(kSlim));
    args.push_back(dst);
    const auto first = push(args);
    ASSERT_TRUE(first.ok()) << first.describe();
    const auto rec = record_of(first);
    EXPECT_EQ(rec["type"], "push");
    EXPECT_EQ(rec["data"]["status"], "ok");
    EXPECT_EQ(rec["data"]["manifest_digest"], slim().manifest_digest);
    EXPECT_EQ(rec["data"]["blobs_copied"], kSlimBlobs + 1);  // and the manifest
    EXPECT_EQ(rec["data"]["tag"], "v1");
    EXPECT_EQ(skopeo_pull(dst, skopeo_flags(*reg), "pulled"), slim().manifest_digest);

    const auto second = push(args);
    ASSERT_TRUE(second.ok()) << second.describe();
    const auto again = record_of(second);
    EXPECT_EQ(again["data"]["blobs_copied"], 0) << second.out;
    EXPECT_EQ(again["data"]["blobs_skipped"], kSlimBlobs + 1) << second.out;
    EXPECT_EQ(again["data"]["bytes"], 0);
    EXPECT_EQ(again["data"]["manifest_digest"], slim().manifest_digest);
  }

  temp_dir tmp_;
};

TEST_F(PushTest, PlainHttpPushIsPulledBackBySkopeoWithTheSameDigestAndASecondPushSkipsEveryBlob) {
  push_and_pull_back(
      registry_auth::none, [](const registry_server&) { return std::vector<std::string>{}; },
      [](const registry_server&) { return std::vector<std::string>{"--src-tls-verify=false"}; });
}

TEST_F(PushTest, TlsWithBasicAuthPushIsPulledBackBySkopeoWithTheSameDigest) {
  push_and_pull_back(
      registry_auth::basic_tls,
      [](const registry_server& r) { return std::vector<std::string>{"--cert-dir", r.cert_dir(), "--creds", r.creds()}; },
      [](const registry_server& r) {
        return std::vector<std::string>{"--src-cert-dir", r.cert_dir(), "--src-creds", r.creds()};
      });
}

TEST_F(PushTest, TokenAuthPushIsPulledBackBySkopeoWithTheSameDigest) {
  push_and_pull_back(
      registry_auth::token, [](const registry_server& r) { return std::vector<std::string>{"--creds", r.creds()}; },
      [](const registry_server& r) {
        return std::vector<std::string>{"--src-tls-verify=false", "--src-creds", r.creds()};
      });
}

TEST_F(PushTest, WithoutCredentialsABasicAuthRegistryRefusesThePush) {
  auto reg = registry_server::start(registry_auth::basic_tls);
  ASSERT_TRUE(reg);
  const auto r = push({"--cert-dir", reg->cert_dir(), dataset_ref(kSlim), reg->ref("slim:v1")});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(record_of(r)["data"]["status"], "error");
}

TEST_F(PushTest, OciArchiveSourceKeepsItsDigestAndCopyToDockerWorksToo) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  const std::string archive = "oci-archive:" + dataset_archive("debian-slim.oci-archive.tar");
  const auto r = push({archive, reg->ref("slim:archive")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rec = record_of(r);
  const std::string pushed = rec["data"]["manifest_digest"];
  EXPECT_EQ(skopeo_pull(reg->ref("slim:archive"), {"--src-tls-verify=false"}, "pulled"), pushed);

  // `copy` names a registry destination the same way; everything is there already.
  const auto c = run_ocipipe({"copy", "--json", archive, reg->ref("slim:copied")});
  ASSERT_TRUE(c.ok()) << c.describe();
  EXPECT_EQ(record_of(c)["data"]["manifest_digest"], pushed);
  EXPECT_EQ(record_of(c)["data"]["blobs_copied"], 0) << c.out;
  EXPECT_EQ(skopeo_raw(reg->ref("slim:copied")), skopeo_raw(reg->ref("slim:archive")));
}

TEST_F(PushTest, DockerArchiveSourceBecomesAnOciManifestOfItsLayerTars) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  const auto file = dataset_archive("debian-slim.docker-archive.tar");
  const auto r = push({"docker-archive:" + file, reg->ref("slim:docker")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto rec = record_of(r);
  EXPECT_EQ(rec["data"]["media_type"], "application/vnd.oci.image.manifest.v1+json");
  const auto raw = skopeo_raw(reg->ref("slim:docker"));
  EXPECT_EQ(sha256_of(raw).str(), rec["data"]["manifest_digest"]);
  const auto m = nlohmann::json::parse(raw, nullptr, false);
  ASSERT_TRUE(m.is_object()) << raw;
  EXPECT_EQ(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(m["config"]["digest"], slim().config_digest);
  // `docker save` names each layer member after the sha256 of its tar.
  const auto listing = run_command({"tar", "-xOf", file, "manifest.json"});
  ASSERT_TRUE(listing.ok()) << listing.describe();
  const auto saved = nlohmann::json::parse(listing.out, nullptr, false);
  ASSERT_TRUE(saved.is_array()) << listing.out;
  std::vector<std::string> want, got;
  for (const auto& l : saved[0]["Layers"]) {
    std::string name = l;
    if (name.size() > 4 && name.ends_with(".tar")) name = name.substr(0, name.size() - 4);
    want.push_back("sha256:" + name.substr(name.rfind('/') + 1));
  }
  for (const auto& l : m["layers"]) {
    got.push_back(l["digest"]);
    EXPECT_EQ(l["mediaType"], "application/vnd.oci.image.layer.v1.tar");
  }
  EXPECT_EQ(got, want);
  // What skopeo reads back verifies every blob it fetches.
  std::string err;
  EXPECT_EQ(run_skopeo({"inspect", "--tls-verify=false", reg->ref("slim:docker")}, &err), 0) << err;
}

// Two small images (amd64, arm64) under one image index tagged "multi".
struct multi_image {
  std::string ref, index_digest, amd64_digest, index_bytes;
};
multi_image build_multi(const std::string& dir) {
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
         {"platform", {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}}}}}}};
  const auto bytes = index.dump();
  const auto d = write_blob(arm, bytes);
  nlohmann::ordered_json top = {
      {"schemaVersion", 2},
      {"manifests",
       {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
         {"digest", d.str()},
         {"size", bytes.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}}}}};
  write_bytes(dir + "/index.json", top.dump());
  return {"oci:" + dir + ":multi", d.str(), amd.manifest_digest.str(), bytes};
}

TEST_F(PushTest, AllPlatformsPushesTheImageIndexWholeAndTheDefaultOnlyTheHostsImage) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  const auto multi = build_multi(tmp_.sub("multi"));

  const auto whole = push({"--all-platforms", multi.ref, reg->ref("multi:all")});
  ASSERT_TRUE(whole.ok()) << whole.describe();
  const auto rec = record_of(whole);
  EXPECT_EQ(rec["data"]["manifest_digest"], multi.index_digest);
  EXPECT_EQ(rec["data"]["images"], 2);
  EXPECT_EQ(skopeo_raw(reg->ref("multi:all")), multi.index_bytes);
  std::string err;
  EXPECT_EQ(run_skopeo({"copy", "--all", "--src-tls-verify=false", reg->ref("multi:all"),
                        "oci:" + tmp_.sub("pulled") + ":all"},
                       &err),
            0)
      << err;
  EXPECT_EQ(index_digest(tmp_.sub("pulled")), multi.index_digest);

#if defined(__x86_64__)
  const auto host = push({multi.ref, reg->ref("multi:host")});
  ASSERT_TRUE(host.ok()) << host.describe();
  EXPECT_EQ(record_of(host)["data"]["manifest_digest"], multi.amd64_digest);
  EXPECT_EQ(record_of(host)["data"]["images"], 1);
#endif
  // By digest: the index is stored under it, no tag.
  const auto by_digest = push({"--all-platforms", multi.ref, reg->ref("multi@" + multi.index_digest)});
  ASSERT_TRUE(by_digest.ok()) << by_digest.describe();
  EXPECT_EQ(record_of(by_digest)["data"]["tag"], "");
  // A digest that is not the image's is refused before anything is sent.
  const auto wrong = push({"--all-platforms", multi.ref, reg->ref("multi@" + std::string(slim().manifest_digest))});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.describe();
}

TEST_F(PushTest, BlobsOfAnotherRepositoryOfTheSameRegistryAreMounted) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  const auto first = push({dataset_ref(kSlim), reg->ref("team-a/slim:v1")});
  ASSERT_TRUE(first.ok()) << first.describe();
  const auto mounted = push({reg->ref("team-a/slim:v1"), reg->ref("team-b/slim:v1")});
  ASSERT_TRUE(mounted.ok()) << mounted.describe();
  const auto rec = record_of(mounted);
  EXPECT_EQ(rec["data"]["blobs_mounted"], kSlimBlobs) << mounted.out;
  EXPECT_EQ(rec["data"]["bytes"], slim().manifest_size) << mounted.out;  // the manifest alone
  EXPECT_EQ(rec["data"]["manifest_digest"], slim().manifest_digest);
  EXPECT_EQ(skopeo_pull(reg->ref("team-b/slim:v1"), {"--src-tls-verify=false"}, "pulled"), slim().manifest_digest);
}

// Starts ocipipe with `args` without waiting; stdout and stderr go to files.
pid_t spawn_ocipipe(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  std::vector<std::string> argv = {ocipipe_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Whether an upload state file under `dir` records blob `digest` with bytes sent.
bool has_session_for(const std::string& dir, const std::string& digest) {
  for (const auto& name : names_in(dir)) {
    if (!name.ends_with(".json")) continue;
    const auto j = nlohmann::json::parse(read_bytes(dir + "/" + name), nullptr, false);
    if (j.is_object() && j.value("digest", "") == digest && j.value("offset", 0ull) > 0) return true;
  }
  return false;
}

std::size_t count_requests(const std::vector<std::string>& log, std::size_t from, const std::string& prefix) {
  std::size_t n = 0;
  for (std::size_t i = from; i < log.size(); ++i)
    if (log[i].rfind(prefix, 0) == 0) ++n;
  return n;
}

TEST_F(PushTest, APushStoppedAfterTheFirstChunkResumesWithoutSendingFinishedBlobsAgain) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  auto proxy = test::fault_proxy::start(reg->host(), {});
  ASSERT_TRUE(proxy);
  const std::string repo = "slim";
  const std::string dst = "docker://" + proxy->host() + "/" + repo + ":v1";
  // One blob at a time, largest first: the 63 MB layer is finished before the 17 MB one
  // starts, and the run is stopped once the registry has taken a chunk of the second.
  // SIGTERM, not SIGKILL: a chunk in flight is then answered and recorded before the run
  // ends, so the test does not depend on timing. (After a SIGKILL between the registry's
  // answer and the record, docker-registry cancels the upload when asked for its status
  // with the older session URL, and the restarted push starts that blob over.)
  const std::vector<std::string> args = {"push", "--json", "-j", "1", "--chunk-size", "1MiB",
                                         "--upload-state-dir", tmp_.sub("uploads"), dataset_ref(kSlim), dst};
  const pid_t pid = spawn_ocipipe(args, tmp_.sub("out1"), tmp_.sub("err1"));
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool stopped = false;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (has_session_for(tmp_.sub("uploads"), slim().layers.at(1).digest)) {
      ::kill(pid, SIGTERM);
      stopped = true;
      break;
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) break;  // ended on its own: the test cannot go on
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (stopped || std::chrono::steady_clock::now() >= deadline) {
    if (!stopped) ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(stopped) << "the push ended before a chunk of " << slim().layers.at(1).digest << " was recorded:\n"
                       << read_bytes(tmp_.sub("err1"));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << read_bytes(tmp_.sub("err1"));
  EXPECT_TRUE(has_session_for(tmp_.sub("uploads"), slim().layers.at(1).digest)) << "the session is kept for the next run";
  const auto before = proxy->requests().size();

  const auto second = run_ocipipe(args);
  ASSERT_TRUE(second.ok()) << second.describe();
  const auto rec = record_of(second);
  EXPECT_EQ(rec["data"]["manifest_digest"], slim().manifest_digest);
  const std::uint64_t resumed = rec["data"]["bytes_resumed"];
  EXPECT_GT(resumed, 0u) << second.out;
  EXPECT_LT(resumed, slim().layers.at(1).size);
  EXPECT_EQ(rec["data"]["blobs_skipped"], 1) << second.out;  // the 63 MB layer, finished by the first run
  EXPECT_EQ(rec["data"]["blobs_copied"], kSlimBlobs - 1 + 1) << second.out;  // the rest and the manifest

  // The second run started uploads only for the three small blobs (the 17 MB one went on
  // from its session), and sent the 17 MB layer's remaining chunks, nothing of the 63 MB one.
  const auto log = proxy->requests();
  const std::string uploads = "/v2/" + repo + "/blobs/uploads/";
  EXPECT_EQ(count_requests(log, before, "POST " + uploads), 3u);
  EXPECT_EQ(count_requests(log, before, "PUT " + uploads), 4u);
  for (std::size_t i = before; i < log.size(); ++i)
    EXPECT_FALSE(log[i].rfind("PUT ", 0) == 0 && contains(log[i], slim().layers.at(0).digest.substr(7))) << log[i];
  const auto patches = count_requests(log, before, "PATCH " + uploads);
  EXPECT_LE(patches, (slim().layers.at(1).size - resumed + (1u << 20) - 1) / (1u << 20));
  EXPECT_TRUE(names_in(tmp_.sub("uploads")).empty()) << "a finished push leaves no upload state";
  EXPECT_EQ(skopeo_pull(reg->ref(repo + ":v1"), {"--src-tls-verify=false"}, "pulled"), slim().manifest_digest);
}

TEST_F(PushTest, RecordedSessionsThatAreGoneOrOnAnotherOriginAreNotFollowed) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  // A second origin, only to see whether anything is sent there.
  auto foreign = test::fault_proxy::start(reg->host(), {});
  ASSERT_TRUE(foreign);
  pipeline::upload_state st(tmp_.sub("uploads"));
  descriptor big{"application/vnd.oci.image.layer.v1.tar+gzip",
                 *digest::parse(slim().layers.at(0).digest),
                 static_cast<std::int64_t>(slim().layers.at(0).size)};
  descriptor small{"application/vnd.oci.image.layer.v1.tar+gzip", *digest::parse(slim().layers.at(1).digest),
                   static_cast<std::int64_t>(slim().layers.at(1).size)};
  ASSERT_TRUE(st.save(reg->host(), "slim", big,
                      {"http://" + foreign->host() + "/v2/slim/blobs/uploads/u?_state=s", 1u << 20}));
  ASSERT_TRUE(st.save(reg->host(), "slim", small,
                      {"http://" + reg->host() + "/v2/slim/blobs/uploads/0b8f4e8e-0000-4000-8000-000000000000?_state=x",
                       1u << 20}));
  const auto r = push({dataset_ref(kSlim), reg->ref("slim:v1")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(record_of(r)["data"]["bytes_resumed"], 0) << r.out;
  EXPECT_EQ(record_of(r)["data"]["manifest_digest"], slim().manifest_digest);
  EXPECT_TRUE(foreign->requests().empty()) << foreign->requests().front();
  EXPECT_TRUE(names_in(tmp_.sub("uploads")).empty());
}

TEST_F(PushTest, ServiceUnavailableOnWritesIsRetried) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  test::proxy_faults faults;
  faults.fail_first_writes = 3;
  auto proxy = test::fault_proxy::start(reg->host(), faults);
  ASSERT_TRUE(proxy);
  const auto r = push({"--chunk-size", "8MiB", dataset_ref(kSlim), "docker://" + proxy->host() + "/slim:v1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  // 7 + 2 chunks go by PATCH (the rest of each blob with its closing PUT), 3 of them twice.
  EXPECT_GE(count_requests(proxy->requests(), 0, "PATCH "), 9u + 3u);
  EXPECT_EQ(record_of(r)["data"]["manifest_digest"], slim().manifest_digest);
  EXPECT_EQ(skopeo_pull(reg->ref("slim:v1"), {"--src-tls-verify=false"}, "pulled"), slim().manifest_digest);
}

TEST_F(PushTest, ADestinationThatIsNotARegistryIsRefused) {
  const auto r = push({dataset_ref(kSlim), "oci:" + tmp_.sub("x")});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(record_of(r)["data"]["error"]["message"].get<std::string>(), "must be a registry"))
      << r.out;
}

}  // namespace
}  // namespace ocipipe::testing
