// io::registry_client against Debian's docker-registry (distribution 2.8)
// started by the test: plain http, TLS + htpasswd, bearer tokens; and behind
// tests/support/fault_proxy.py for the faults of buglog class 9 (B53, B61,
// B62, B64, B65, B67). Blobs are random bytes from fixed seeds, made here.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/registry_client.h"
#include "stages/digester.h"
#include "stages/oci/media_type.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_env.h"

namespace ocipipe {
namespace {

using io::registry_client;
using io::registry_options;
using test::fault_proxy;
using test::proxy_faults;
using test::registry_auth;
using test::registry_server;
using json = nlohmann::json;

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

byte_view view(const std::string& s) { return byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()); }

descriptor blob_desc(const std::string& bytes, std::string_view media_type = media_type::layer_tar_gzip) {
  descriptor d;
  d.media_type = std::string(media_type);
  d.digest = digester::of(view(bytes));
  d.size = static_cast<std::int64_t>(bytes.size());
  return d;
}

std::string describe(const error& e) { return std::string(errc_name(e.code())) + ": " + e.message(); }

/// Options that see no credentials of the user running the tests.
struct options_maker {
  testing::temp_dir dir{"ocipipe-registry-client"};
  registry_options anonymous() {
    registry_options o;
    const std::string empty = dir.sub("auth.json");
    testing::write_bytes(empty, "{}");
    o.auth.auth_file = empty;
    o.retry_base_seconds = 0.05;
    return o;
  }
  registry_options with_creds(const registry_server& s) {
    registry_options o = anonymous();
    o.auth.creds = registry_credentials{s.username, s.password, ""};
    return o;
  }
};

std::shared_ptr<registry_client> connect(const std::string& host, const registry_options& o) {
  auto c = registry_client::connect(host, o);
  EXPECT_TRUE(c.has_value()) << describe(c.error());
  return c ? *c : nullptr;
}

std::string read_all(byte_source& src) {
  std::string out;
  for (;;) {
    auto c = src.next();
    EXPECT_TRUE(c.has_value()) << describe(c.error());
    if (!c || c->empty()) return out;
    out.append(reinterpret_cast<const char*>(c->data()), c->size());
  }
}

/// A source that fails with `io` once it has handed out `fail_at` bytes.
class failing_source final : public byte_source {
 public:
  failing_source(const std::string& bytes, std::size_t fail_at) : bytes_(bytes), fail_at_(fail_at) {}
  result<byte_view> next() override {
    if (pos_ >= fail_at_) return fail(errc::io, "source broke");
    const std::size_t n = std::min<std::size_t>(1 << 20, std::min(fail_at_, bytes_.size()) - pos_);
    auto out = view(bytes_).subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const std::string& bytes_;
  std::size_t fail_at_;
  std::size_t pos_ = 0;
};

void push_blob(registry_client& c, const std::string& repo, const std::string& bytes) {
  memory_source src(view(bytes));
  auto r = c.upload_blob(repo, blob_desc(bytes), src);
  ASSERT_TRUE(r.has_value()) << describe(r.error());
}

/// An OCI image of one layer pushed to `repo`; returns the manifest bytes.
struct pushed_image {
  std::string manifest;
  descriptor desc;
  descriptor layer;
};

pushed_image push_image(registry_client& c, const std::string& repo, const std::string& tag, std::uint64_t seed,
                        std::string_view manifest_type = media_type::image_manifest) {
  const bool docker = manifest_type == media_type::docker_manifest;
  const std::string layer = random_bytes(4096, seed);
  const std::string config =
      json{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({digester::of(view(layer)).str()})}}}}
          .dump();
  push_blob(c, repo, layer);
  push_blob(c, repo, config);
  const auto ld = blob_desc(layer, docker ? media_type::docker_layer_gzip : media_type::layer_tar_gzip);
  const auto cd = blob_desc(config, docker ? media_type::docker_config : media_type::image_config);
  json m{{"schemaVersion", 2},
         {"mediaType", std::string(manifest_type)},
         {"config", {{"mediaType", cd.media_type}, {"digest", cd.digest.str()}, {"size", cd.size}}},
         {"layers", json::array({{{"mediaType", ld.media_type}, {"digest", ld.digest.str()}, {"size", ld.size}}})}};
  pushed_image out;
  out.manifest = m.dump();
  out.layer = ld;
  out.desc = blob_desc(out.manifest, manifest_type);
  auto d = c.put_manifest(repo, tag, out.manifest, std::string(manifest_type));
  EXPECT_TRUE(d.has_value()) << describe(d.error());
  if (d) EXPECT_EQ(d->str(), out.desc.digest.str());
  return out;
}

int count_lines(const std::vector<std::string>& lines, const std::string& part) {
  return static_cast<int>(std::count_if(lines.begin(), lines.end(),
                                        [&](const std::string& l) { return l.find(part) != std::string::npos; }));
}

// ---------------------------------------------------------------------------

TEST(RegistryClient, ConnectsToPlainHttpRegistryOnLoopback) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->base_url(), "http://" + reg->host());
  EXPECT_EQ(c->host(), reg->host());
  auto bad = registry_client::connect("bad host/x", om.anonymous());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), errc::invalid_argument);
}

TEST(RegistryClient, PushesBlobMonolithicallyAndReadsItBack) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(3 << 20, 1);
  const auto d = blob_desc(bytes);
  auto missing = c->head_blob("test/mono", d.digest);
  ASSERT_TRUE(missing.has_value()) << describe(missing.error());
  EXPECT_FALSE(missing->has_value());

  std::uint64_t progressed = 0;
  io::upload_options uo;
  uo.on_bytes = [&](std::uint64_t n) { progressed += n; };
  memory_source src(view(bytes), 100000);
  auto up = c->upload_blob("test/mono", d, src, uo);
  ASSERT_TRUE(up.has_value()) << describe(up.error());
  EXPECT_EQ(progressed, bytes.size());

  auto size = c->head_blob("test/mono", d.digest);
  ASSERT_TRUE(size.has_value()) << describe(size.error());
  ASSERT_TRUE(size->has_value());
  EXPECT_EQ(**size, bytes.size());

  auto blob = c->open_blob("test/mono", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  EXPECT_TRUE(read_all(**blob) == bytes);

  // From an offset: the rest only.
  auto tail = c->open_blob("test/mono", d, 1000000);
  ASSERT_TRUE(tail.has_value()) << describe(tail.error());
  EXPECT_TRUE(read_all(**tail) == bytes.substr(1000000));

  // A descriptor size that lies is caught.
  auto small = d;
  small.size -= 1;
  auto lying = c->open_blob("test/mono", small);
  if (lying) {
    auto r = (*lying)->next();
    while (r && !r->empty()) r = (*lying)->next();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), errc::size_mismatch) << describe(r.error());
  } else {
    EXPECT_EQ(lying.error().code(), errc::size_mismatch) << describe(lying.error());
  }

  const std::string cfg = "{\"small\":true}";
  push_blob(*c, "test/mono", cfg);
  auto whole = c->read_blob("test/mono", blob_desc(cfg));
  ASSERT_TRUE(whole.has_value()) << describe(whole.error());
  EXPECT_EQ(*whole, cfg);
  auto too_big = c->read_blob("test/mono", d, 1024);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code(), errc::resource_exhausted);

  // A blob the registry does not hold.
  auto absent = c->open_blob("test/mono", blob_desc("nope"));
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code(), errc::not_found) << describe(absent.error());

  // A wrong digest: the registry refuses the closing PUT.
  auto wrong = blob_desc(bytes);
  wrong.digest = digester::of(view(std::string("other")));
  memory_source src2(view(bytes));
  auto bad = c->upload_blob("test/mono", wrong, src2);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), errc::digest_mismatch) << describe(bad.error());
}

// buglog B65: 35 MiB in 10 MiB chunks: PATCH 0-10485759, 10485760-20971519,
// 20971520-31457279, then the closing PUT with the rest.
TEST(RegistryClient, PushesChunkedBlobInInclusiveRanges) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  auto proxy = fault_proxy::start(reg->host(), proxy_faults{});
  ASSERT_TRUE(proxy);
  options_maker om;
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(35 << 20, 2);
  const auto d = blob_desc(bytes);
  std::vector<std::uint64_t> offsets;
  io::upload_options uo;
  uo.chunk_bytes = 10 << 20;
  uo.on_chunk = [&](const io::upload_session& s) { offsets.push_back(s.offset); };
  memory_source src(view(bytes), 3 << 20);
  auto up = c->upload_blob("test/chunked", d, src, uo);
  ASSERT_TRUE(up.has_value()) << describe(up.error());
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{10 << 20, 20 << 20, 30 << 20}));
  const auto log = proxy->requests();
  EXPECT_EQ(count_lines(log, "PATCH /v2/test/chunked/blobs/uploads/"), 3);
  EXPECT_EQ(count_lines(log, "PUT /v2/test/chunked/blobs/uploads/"), 1);

  auto blob = c->open_blob("test/chunked", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  digester dg;
  for (;;) {
    auto ch = (*blob)->next();
    ASSERT_TRUE(ch.has_value()) << describe(ch.error());
    if (ch->empty()) break;
    dg.update(*ch);
  }
  EXPECT_EQ(dg.finish().str(), d.digest.str());
}

// buglog B65's variants: a minimum chunk length above the chosen one, a
// Range answer stuck at the first chunk, and a 416 on a chunk.
TEST(RegistryClient, ChunkedUploadHonoursMinimumIgnoresStaleRangeAndRecoversFrom416) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  proxy_faults f;
  f.chunk_min_length = 2 << 20;
  f.stale_upload_range = true;
  f.reject_chunks = 1;
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);
  options_maker om;
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(7 << 20, 19);
  const auto d = blob_desc(bytes);
  std::vector<std::uint64_t> offsets;
  io::upload_options uo;
  uo.chunk_bytes = 1 << 20;
  uo.on_chunk = [&](const io::upload_session& s) { offsets.push_back(s.offset); };
  memory_source src(view(bytes));
  auto up = c->upload_blob("test/b65", d, src, uo);
  ASSERT_TRUE(up.has_value()) << describe(up.error());
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{2 << 20, 4 << 20, 6 << 20}));
  const auto log = proxy->requests();
  EXPECT_EQ(count_lines(log, "PATCH /v2/test/b65/blobs/uploads/"), 4);  // one refused with 416, sent again
  EXPECT_GE(count_lines(log, "GET /v2/test/b65/blobs/uploads/"), 1);     // the status asked after the 416
  auto blob = c->read_blob("test/b65", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  EXPECT_TRUE(*blob == bytes);
}

TEST(RegistryClient, ResumesChunkedUploadFromRecordedSession) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(5 << 20, 3);
  const auto d = blob_desc(bytes);
  std::optional<io::upload_session> recorded;
  io::upload_options uo;
  uo.chunk_bytes = 1 << 20;
  uo.on_chunk = [&](const io::upload_session& s) { recorded = s; };
  failing_source broken(bytes, (2 << 20) + 12345);  // dies inside the third chunk
  auto first = c->upload_blob("test/resume", d, broken, uo);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code(), errc::io) << describe(first.error());
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->offset, 2u << 20);

  // Another "process": only the session is known.
  auto c2 = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c2);
  auto status = c2->upload_status("test/resume", recorded->location);
  ASSERT_TRUE(status.has_value()) << describe(status.error());
  ASSERT_TRUE(status->has_value());
  EXPECT_EQ((*status)->offset, 2u << 20);

  std::uint64_t sent = 0;
  io::upload_options again;
  again.chunk_bytes = 1 << 20;
  again.resume = **status;
  again.on_bytes = [&](std::uint64_t n) { sent += n; };
  memory_source rest(view(bytes).subspan((*status)->offset));
  auto second = c2->upload_blob("test/resume", d, rest, again);
  ASSERT_TRUE(second.has_value()) << describe(second.error());
  EXPECT_EQ(sent, bytes.size() - (2u << 20));
  auto size = c2->head_blob("test/resume", d.digest);
  ASSERT_TRUE(size.has_value() && size->has_value());
  EXPECT_EQ(**size, bytes.size());

  // A session that no longer exists.
  auto gone = c2->upload_status("test/resume", recorded->location);
  ASSERT_TRUE(gone.has_value()) << describe(gone.error());
  EXPECT_FALSE(gone->has_value());
}

TEST(RegistryClient, MountsBlobFromAnotherRepository) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(100000, 4);
  const auto d = blob_desc(bytes);
  push_blob(*c, "test/source", bytes);
  auto mounted = c->mount_blob("test/target", d.digest, "test/source");
  ASSERT_TRUE(mounted.has_value()) << describe(mounted.error());
  EXPECT_TRUE(*mounted);
  auto size = c->head_blob("test/target", d.digest);
  ASSERT_TRUE(size.has_value() && size->has_value());
  EXPECT_EQ(**size, bytes.size());
  // A blob the source does not hold: the registry opens an upload instead.
  auto not_there = c->mount_blob("test/target", blob_desc("absent").digest, "test/source");
  ASSERT_TRUE(not_there.has_value()) << describe(not_there.error());
  EXPECT_FALSE(*not_there);
}

TEST(RegistryClient, PutsGetsHeadsAndDeletesManifests) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const auto img = push_image(*c, "test/manifests", "v1", 5);

  auto by_tag = c->get_manifest("test/manifests", "v1");
  ASSERT_TRUE(by_tag.has_value()) << describe(by_tag.error());
  EXPECT_EQ(by_tag->bytes, img.manifest);
  EXPECT_EQ(by_tag->desc.digest.str(), img.desc.digest.str());
  EXPECT_EQ(by_tag->desc.media_type, media_type::image_manifest);
  EXPECT_EQ(by_tag->desc.size, img.desc.size);

  auto by_digest = c->get_manifest("test/manifests", img.desc.digest.str());
  ASSERT_TRUE(by_digest.has_value()) << describe(by_digest.error());
  EXPECT_EQ(by_digest->bytes, img.manifest);

  auto head = c->head_manifest("test/manifests", "v1");
  ASSERT_TRUE(head.has_value()) << describe(head.error());
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->digest.str(), img.desc.digest.str());
  EXPECT_EQ((*head)->size, img.desc.size);
  EXPECT_EQ((*head)->media_type, media_type::image_manifest);

  auto missing = c->get_manifest("test/manifests", "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), errc::not_found);
  EXPECT_NE(missing.error().message().find("MANIFEST_UNKNOWN"), std::string::npos) << missing.error().message();

  auto bad_ref = c->get_manifest("test/manifests", "bad/tag");
  ASSERT_FALSE(bad_ref.has_value());
  EXPECT_EQ(bad_ref.error().code(), errc::invalid_argument);

  // A manifest naming a blob the registry lacks: 400 with its error code.
  json broken = json::parse(img.manifest);
  broken["layers"][0]["digest"] = blob_desc("never pushed").digest.str();
  auto refused = c->put_manifest("test/manifests", "broken", broken.dump(), std::string(media_type::image_manifest));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::invalid_argument) << describe(refused.error());
  EXPECT_NE(refused.error().message().find("MANIFEST_BLOB_UNKNOWN"), std::string::npos) << refused.error().message();

  auto del = c->delete_manifest("test/manifests", img.desc.digest);
  ASSERT_TRUE(del.has_value()) << describe(del.error());
  auto after = c->head_manifest("test/manifests", img.desc.digest.str());
  ASSERT_TRUE(after.has_value()) << describe(after.error());
  EXPECT_FALSE(after->has_value());
}

TEST(RegistryClient, ListsTagsAcrossLinkPages) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  auto proxy = fault_proxy::start(reg->host(), proxy_faults{});
  ASSERT_TRUE(proxy);
  options_maker om;
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  const auto img = push_image(*c, "test/tags", "a", 6);
  for (const char* t : {"b", "c", "d", "e"}) {
    auto r = c->put_manifest("test/tags", t, img.manifest, std::string(media_type::image_manifest));
    ASSERT_TRUE(r.has_value()) << describe(r.error());
  }
  auto tags = c->list_tags("test/tags", 2);
  ASSERT_TRUE(tags.has_value()) << describe(tags.error());
  EXPECT_EQ(*tags, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_GE(count_lines(proxy->requests(), "GET /v2/test/tags/tags/list"), 3);

  auto all = c->list_tags("test/tags");
  ASSERT_TRUE(all.has_value()) << describe(all.error());
  EXPECT_EQ(all->size(), 5u);
  auto none = c->list_tags("test/unknown");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), errc::not_found);
}

// buglog B53: distribution 2.8 has no referrers API, so the tag schema
// fallback answers; entries that do not name the subject are dropped.
TEST(RegistryClient, ReferrersFallBackToTagSchemaAndKeepOnlyTrueReferrers) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const auto subject = push_image(*c, "test/refs", "subject", 7);

  const std::string empty_config = "{}";
  push_blob(*c, "test/refs", empty_config);
  const std::string sig = random_bytes(512, 8);
  push_blob(*c, "test/refs", sig);
  const auto sd = blob_desc(sig, "application/vnd.example.signature");
  json referrer{{"schemaVersion", 2},
                {"mediaType", std::string(media_type::image_manifest)},
                {"artifactType", "application/vnd.example.sig"},
                {"config", {{"mediaType", std::string(media_type::empty_json)},
                            {"digest", digester::of(view(empty_config)).str()},
                            {"size", 2}}},
                {"layers", json::array({{{"mediaType", sd.media_type}, {"digest", sd.digest.str()}, {"size", sd.size}}})},
                {"subject", {{"mediaType", std::string(media_type::image_manifest)},
                             {"digest", subject.desc.digest.str()},
                             {"size", subject.desc.size}}}};
  const std::string referrer_bytes = referrer.dump();
  auto rd = c->put_manifest("test/refs", digester::of(view(referrer_bytes)).str(), referrer_bytes,
                            std::string(media_type::image_manifest));
  ASSERT_TRUE(rd.has_value()) << describe(rd.error());

  // No referrers yet: an empty index.
  auto none = c->referrers("test/refs", subject.desc.digest);
  ASSERT_TRUE(none.has_value()) << describe(none.error());
  EXPECT_TRUE(none->manifests.empty());

  // The fallback index lists the referrer and, as some registries answer,
  // the subject itself.
  json fallback{{"schemaVersion", 2},
                {"mediaType", std::string(media_type::image_index)},
                {"manifests", json::array({{{"mediaType", std::string(media_type::image_manifest)},
                                            {"digest", rd->str()},
                                            {"size", referrer_bytes.size()}},
                                           {{"mediaType", std::string(media_type::image_manifest)},
                                            {"digest", subject.desc.digest.str()},
                                            {"size", subject.desc.size}}})}};
  const std::string tag = "sha256-" + std::string(subject.desc.digest.encoded());
  auto fd = c->put_manifest("test/refs", tag, fallback.dump(), std::string(media_type::image_index));
  ASSERT_TRUE(fd.has_value()) << describe(fd.error());

  auto refs = c->referrers("test/refs", subject.desc.digest);
  ASSERT_TRUE(refs.has_value()) << describe(refs.error());
  ASSERT_EQ(refs->manifests.size(), 1u);
  EXPECT_EQ(refs->manifests[0].digest.str(), rd->str());
  EXPECT_EQ(refs->manifests[0].artifact_type, "application/vnd.example.sig");

  auto filtered = c->referrers("test/refs", subject.desc.digest, "application/vnd.example.other");
  ASSERT_TRUE(filtered.has_value()) << describe(filtered.error());
  EXPECT_TRUE(filtered->manifests.empty());
}

TEST(RegistryClient, BasicAuthOverTlsNeedsCertDirAndCredentials) {
  auto reg = registry_server::start(registry_auth::basic_tls);
  ASSERT_TRUE(reg);
  options_maker om;
  auto opts = om.with_creds(*reg);
  opts.tls.cert_dir = reg->cert_dir();
  auto c = connect(reg->host(), opts);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->base_url(), "https://" + reg->host());
  const auto img = push_image(*c, "test/tls", "v1", 9);
  auto m = c->get_manifest("test/tls", "v1");
  ASSERT_TRUE(m.has_value()) << describe(m.error());
  EXPECT_EQ(m->bytes, img.manifest);

  // Without credentials: unauthenticated.
  auto anon_opts = om.anonymous();
  anon_opts.tls.cert_dir = reg->cert_dir();
  auto anon = connect(reg->host(), anon_opts);
  ASSERT_TRUE(anon);
  auto refused = anon->get_manifest("test/tls", "v1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::unauthenticated) << describe(refused.error());

  // Wrong password: unauthenticated too.
  auto wrong = om.with_creds(*reg);
  wrong.auth.creds->password = "wrong";
  wrong.tls.cert_dir = reg->cert_dir();
  auto w = connect(reg->host(), wrong);
  ASSERT_TRUE(w);
  auto r = w->get_manifest("test/tls", "v1");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::unauthenticated) << describe(r.error());
  EXPECT_NE(r.error().message().find("status 401 (credentials refused; from --creds)"), std::string::npos)
      << describe(r.error());

  // Without the CA the certificate is not trusted, and plain http is no way round it.
  auto untrusted = registry_client::connect(reg->host(), om.with_creds(*reg));
  ASSERT_FALSE(untrusted.has_value());
  EXPECT_NE(untrusted.error().code(), errc::invalid_argument) << describe(untrusted.error());
}

TEST(RegistryClient, PathScopedAuthFileKeysApplyOnlyToTheirNamespace) {
  auto reg = registry_server::start(registry_auth::basic_tls);
  ASSERT_TRUE(reg);
  options_maker om;
  auto admin_opts = om.with_creds(*reg);
  admin_opts.tls.cert_dir = reg->cert_dir();
  auto admin = connect(reg->host(), admin_opts);
  ASSERT_TRUE(admin);
  const auto img = push_image(*admin, "sec/slim", "v1", 21);

  const auto entry = [&](const std::string& password) {
    return json{{"username", reg->username}, {"password", password}};
  };
  const auto client_with = [&](const json& auths) {
    const std::string file = om.dir.sub("scoped-" + std::to_string(auths.size()) + ".json");
    testing::write_bytes(file, json{{"auths", auths}}.dump());
    registry_options o;
    o.auth.auth_file = file;
    o.tls.cert_dir = reg->cert_dir();
    o.retry_base_seconds = 0.05;
    return connect(reg->host(), o);
  };

  // Only "host/other": sec/slim is anonymous (nothing sent), other/* gets the credentials.
  auto other_only = client_with(json{{reg->host() + "/other", entry(reg->password)}});
  ASSERT_TRUE(other_only);
  auto anon = other_only->get_manifest("sec/slim", "v1");
  ASSERT_FALSE(anon.has_value());
  EXPECT_EQ(anon.error().code(), errc::unauthenticated) << describe(anon.error());
  EXPECT_NE(anon.error().message().find("none were found"), std::string::npos) << describe(anon.error());
  auto other = other_only->head_manifest("other/x", "v1");
  ASSERT_TRUE(other.has_value()) << describe(other.error());
  EXPECT_FALSE(other->has_value());  // 404: authenticated, nothing there

  // {"host": wrong, "host/sec": right}: the namespace's key wins for sec/*.
  auto scoped = client_with(json{{reg->host(), entry("wrong")}, {reg->host() + "/sec", entry(reg->password)}});
  ASSERT_TRUE(scoped);
  auto m = scoped->get_manifest("sec/slim", "v1");
  ASSERT_TRUE(m.has_value()) << describe(m.error());
  EXPECT_EQ(m->bytes, img.manifest);
  // Elsewhere the host key is used, refused, and the message says whose it was.
  auto refused = scoped->head_manifest("test/x", "v1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::unauthenticated) << describe(refused.error());
  EXPECT_NE(refused.error().message().find("credentials refused; from "), std::string::npos) << describe(refused.error());
  EXPECT_NE(refused.error().message().find("auths.\"" + reg->host() + "\""), std::string::npos)
      << describe(refused.error());

  // A mount between repositories of different credentials is not tried; within one it is.
  auto cross = scoped->mount_blob("test/copy", img.layer.digest, "sec/slim");
  ASSERT_TRUE(cross.has_value()) << describe(cross.error());
  EXPECT_FALSE(*cross);
  auto within = scoped->mount_blob("sec/copy", img.layer.digest, "sec/slim");
  ASSERT_TRUE(within.has_value()) << describe(within.error());
  EXPECT_TRUE(*within);
}

TEST(RegistryClient, BearerTokensAreFetchedPerScopeAndCached) {
  auto reg = registry_server::start(registry_auth::token);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.with_creds(*reg));
  ASSERT_TRUE(c);
  const auto img = push_image(*c, "test/token", "v1", 10);
  const auto after_push = reg->token_requests();
  ASSERT_FALSE(after_push.empty());
  for (const auto& l : after_push) EXPECT_NE(l.find("auth=yes"), std::string::npos) << l;
  EXPECT_GE(count_lines(after_push, "scope=repository%3Atest%2Ftoken%3Apull%2Cpush") +
                count_lines(after_push, "scope=repository:test/token:pull,push"),
            1)
      << after_push[0];
  // Pushing two blobs and a manifest took one token for the push scope.
  EXPECT_LE(after_push.size(), 2u);

  for (int i = 0; i < 3; ++i) {
    auto m = c->get_manifest("test/token", "v1");
    ASSERT_TRUE(m.has_value()) << describe(m.error());
    auto b = c->read_blob("test/token", img.layer);
    ASSERT_TRUE(b.has_value()) << describe(b.error());
  }
  const auto after_reads = reg->token_requests();
  // One more token at most: the pull scope, then cached.
  EXPECT_LE(after_reads.size(), after_push.size() + 1);

  auto anon = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(anon);
  auto refused = anon->get_manifest("test/token", "v1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::unauthenticated) << describe(refused.error());
}

// buglog B67: a multi-platform tag comes back as the list, not as the
// manifest the registry would pick for a client that omitted list types.
TEST(RegistryClient, SendsEveryManifestTypeInAccept) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  auto c = connect(reg->host(), om.anonymous());
  ASSERT_TRUE(c);
  const auto amd = push_image(*c, "test/multi", "amd64", 11, media_type::docker_manifest);
  const auto arm = push_image(*c, "test/multi", "arm64", 12, media_type::docker_manifest);
  json list{{"schemaVersion", 2},
            {"mediaType", std::string(media_type::docker_manifest_list)},
            {"manifests", json::array({{{"mediaType", std::string(media_type::docker_manifest)},
                                        {"digest", amd.desc.digest.str()},
                                        {"size", amd.desc.size},
                                        {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}},
                                       {{"mediaType", std::string(media_type::docker_manifest)},
                                        {"digest", arm.desc.digest.str()},
                                        {"size", arm.desc.size},
                                        {"platform", {{"architecture", "arm64"}, {"os", "linux"}}}}})}};
  auto ld = c->put_manifest("test/multi", "latest", list.dump(), std::string(media_type::docker_manifest_list));
  ASSERT_TRUE(ld.has_value()) << describe(ld.error());
  auto got = c->get_manifest("test/multi", "latest");
  ASSERT_TRUE(got.has_value()) << describe(got.error());
  EXPECT_EQ(got->desc.media_type, media_type::docker_manifest_list);
  EXPECT_EQ(got->desc.digest.str(), ld->str());
  const auto& accept = io::manifest_accept_types();
  EXPECT_EQ(accept.size(), 4u);
  for (auto t : {media_type::image_index, media_type::image_manifest, media_type::docker_manifest_list,
                 media_type::docker_manifest})
    EXPECT_NE(std::find(accept.begin(), accept.end(), std::string(t)), accept.end()) << t;
}

TEST(RegistryClient, WrongDockerContentDigestIsDigestMismatch) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  {
    auto c = connect(reg->host(), om.anonymous());
    ASSERT_TRUE(c);
    push_image(*c, "test/digest", "v1", 13);
  }
  proxy_faults f;
  f.wrong_manifest_digest = true;
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  auto m = c->get_manifest("test/digest", "v1");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), errc::digest_mismatch) << describe(m.error());
  auto h = c->head_manifest("test/digest", "v1");
  // HEAD cannot check the bytes; it reports what the registry says.
  ASSERT_TRUE(h.has_value()) << describe(h.error());
}

TEST(RegistryClient, OpenBlobResumesAfterDroppedConnection) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  const std::string bytes = random_bytes(4 << 20, 14);
  const auto d = blob_desc(bytes);
  {
    auto c = connect(reg->host(), om.anonymous());
    ASSERT_TRUE(c);
    push_blob(*c, "test/drop", bytes);
  }
  proxy_faults f;
  f.drop_after_bytes = 1 << 20;
  f.drop_times = 2;
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  auto blob = c->open_blob("test/drop", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  EXPECT_TRUE(read_all(**blob) == bytes);
  EXPECT_EQ(count_lines(proxy->requests(), "GET /v2/test/drop/blobs/" + d.digest.str()), 3);
}

// buglog B64: blobs redirected to an "object store" that refuses
// Authorization and HEAD, and expires its URLs.
TEST(RegistryClient, FollowsBlobRedirectsWithoutCredentials) {
  auto reg = registry_server::start(registry_auth::token);
  ASSERT_TRUE(reg);
  options_maker om;
  const std::string bytes = random_bytes(2 << 20, 15);
  const auto d = blob_desc(bytes);
  proxy_faults f;
  f.redirect_blobs = true;
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);
  auto c = connect(proxy->host(), om.with_creds(*reg));
  ASSERT_TRUE(c);
  push_blob(*c, "test/redirect", bytes);

  auto size = c->head_blob("test/redirect", d.digest);
  ASSERT_TRUE(size.has_value()) << describe(size.error());
  ASSERT_TRUE(size->has_value());
  EXPECT_EQ(**size, bytes.size());

  auto blob = c->open_blob("test/redirect", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  EXPECT_TRUE(read_all(**blob) == bytes);

  const auto log = proxy->requests();
  int object_store_requests = 0;
  for (const auto& l : log) {
    if (l.rfind("GET /r/", 0) == 0 || l.rfind("GET /d/", 0) == 0 || l.rfind("HEAD /r/", 0) == 0) {
      ++object_store_requests;
      EXPECT_NE(l.find("auth=no"), std::string::npos) << "credentials sent to the redirect target: " << l;
    }
  }
  EXPECT_GE(object_store_requests, 4);  // probe GET /r/ + /d/, blob GET /r/ + /d/

  // Expired on arrival: the registry is asked again, then the refusal shows.
  proxy_faults expiring = f;
  expiring.redirect_ttl_seconds = 0;
  auto proxy2 = fault_proxy::start(reg->host(), expiring);
  ASSERT_TRUE(proxy2);
  auto c2 = connect(proxy2->host(), om.with_creds(*reg));
  ASSERT_TRUE(c2);
  auto expired = c2->open_blob("test/redirect", d);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), errc::permission_denied) << describe(expired.error());
  // One request with the token, then two more after the expired redirects
  // (an anonymous first one may precede them and meet the challenge).
  int with_token = 0;
  for (const auto& l : proxy2->requests())
    if (l.rfind("GET /v2/test/redirect/blobs/", 0) == 0 && l.find("auth=yes") != std::string::npos) ++with_token;
  EXPECT_EQ(with_token, 3);
}

// buglog B62: a registry whose challenge names a realm on another host over
// plain http never gets that host our credentials.
TEST(RegistryClient, ForeignRealmGetsNoCredentials) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  proxy_faults f;
  f.challenge = "Bearer realm=\"http://localhost:{alt_port}/token\",service=\"evil\",scope=\"repository:x:pull\"";
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);

  auto creds = om.anonymous();
  creds.auth.creds = registry_credentials{"ocitest", "s3cret:pw", ""};
  auto c = connect(proxy->host(), creds);
  ASSERT_TRUE(c);
  auto m = c->get_manifest("x", "latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_TRUE(m.error().code() == errc::permission_denied || m.error().code() == errc::unauthenticated)
      << describe(m.error());
  for (const auto& l : proxy->requests())
    EXPECT_EQ(l.find("auth=yes"), std::string::npos) << "credentials sent: " << l;

  // Without credentials the realm is used anonymously; its token does not open the registry.
  auto anon = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(anon);
  auto a = anon->get_manifest("x", "latest");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), errc::unauthenticated) << describe(a.error());
  for (const auto& l : proxy->requests()) {
    if (l.rfind("GET /token", 0) == 0) EXPECT_NE(l.find("auth=no"), std::string::npos) << l;
  }
}

// buglog B61: a layer's foreign `urls` are tried first, without credentials,
// and the registry after them.
TEST(RegistryClient, ForeignUrlsAreFetchedWithoutCredentialsThenRegistry) {
  auto reg = registry_server::start(registry_auth::token);
  ASSERT_TRUE(reg);
  options_maker om;
  testing::temp_dir served("ocipipe-foreign");
  const std::string bytes = random_bytes(300000, 16);
  testing::write_bytes(served.sub("layer.bin"), bytes);
  auto web = test::static_http_server::start(served.path());
  ASSERT_TRUE(web);
  auto c = connect(reg->host(), om.with_creds(*reg));
  ASSERT_TRUE(c);

  auto d = blob_desc(bytes, media_type::layer_nondistributable_tar_gzip);
  d.urls = {web->url() + "/layer.bin"};
  // Not in the registry at all: served from the URL.
  auto blob = c->open_blob("test/foreign", d);
  ASSERT_TRUE(blob.has_value()) << describe(blob.error());
  EXPECT_TRUE(read_all(**blob) == bytes);
  const auto log = web->requests();
  ASSERT_FALSE(log.empty());
  for (const auto& l : log) EXPECT_NE(l.find("auth=no"), std::string::npos) << l;

  // A URL that fails: the registry serves it.
  push_blob(*c, "test/foreign", bytes);
  d.urls = {web->url() + "/missing.bin"};
  auto fallback = c->open_blob("test/foreign", d);
  ASSERT_TRUE(fallback.has_value()) << describe(fallback.error());
  EXPECT_TRUE(read_all(**fallback) == bytes);
}

TEST(RegistryClient, RetriesWritesAnsweredWith503) {
  auto reg = registry_server::start(registry_auth::none);
  ASSERT_TRUE(reg);
  options_maker om;
  {
    // The manifest PUT fails twice, the third try lands.
    proxy_faults f;
    f.fail_first_writes = 2;
    auto proxy = fault_proxy::start(reg->host(), f);
    ASSERT_TRUE(proxy);
    auto c = connect(proxy->host(), om.anonymous());
    ASSERT_TRUE(c);
    const auto img = push_image(*c, "test/retry", "v1", 18);
    auto m = c->get_manifest("test/retry", "v1");
    ASSERT_TRUE(m.has_value()) << describe(m.error());
    EXPECT_EQ(m->bytes, img.manifest);
    EXPECT_EQ(count_lines(proxy->requests(), "PUT /v2/test/retry/manifests/v1"), 3);
  }
  // A PATCH fails once: the upload's status is read and the chunk sent again.
  proxy_faults f;
  f.fail_first_writes = 1;
  auto proxy = fault_proxy::start(reg->host(), f);
  ASSERT_TRUE(proxy);
  auto c = connect(proxy->host(), om.anonymous());
  ASSERT_TRUE(c);
  const std::string bytes = random_bytes(3 << 20, 17);
  const auto d = blob_desc(bytes);
  io::upload_options uo;
  uo.chunk_bytes = 1 << 20;
  memory_source src(view(bytes));
  auto up = c->upload_blob("test/retry", d, src, uo);
  ASSERT_TRUE(up.has_value()) << describe(up.error());
  const auto log = proxy->requests();
  EXPECT_EQ(count_lines(log, "PATCH /v2/test/retry/blobs/uploads/"), 3);
  EXPECT_GE(count_lines(log, "GET /v2/test/retry/blobs/uploads/"), 1);
}

}  // namespace
}  // namespace ocipipe
