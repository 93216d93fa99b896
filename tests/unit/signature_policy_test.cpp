// stages/signature_policy: containers-policy.json(5) parsing, scope lookup
// and signedIdentity matching with containers/image's semantics.
#include <gtest/gtest.h>

#include <string>

#include "stages/base64.h"
#include "stages/signature_policy.h"

namespace ocipipe {
namespace {

const std::string sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

using req_kind = policy_requirement::kind;
using id_kind = signed_identity::kind;

// The "reasonably locked-down system" example of containers-policy.json(5),
// with its comments (not JSON) taken out.
const char* const man_page_example = R"({
    "default": [{"type": "reject"}],
    "transports": {
        "docker": {
            "docker.io/openshift": [{"type": "insecureAcceptAnything"}],
            "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}],
            "*.temporary-project.example.com": [{"type": "insecureAcceptAnything"}],
            "hostname:5000/myns/sigstore-signed-with-full-references": [
                {
                    "type": "sigstoreSigned",
                    "keyPath": "/path/to/sigstore-pubkey.pub"
                }
            ],
            "hostname:5000/myns/sigstore-signed-allows-malicious-tag-substitution": [
                {
                    "type": "sigstoreSigned",
                    "keyPath": "/path/to/sigstore-pubkey.pub",
                    "signedIdentity": {"type": "matchRepository"}
                }
            ]
        },
        "dir": {
            "": [{"type": "insecureAcceptAnything"}]
        },
        "atomic": {
            "hostname:5000/myns/official": [
                {
                    "type": "signedBy",
                    "keyType": "GPGKeys",
                    "keyPath": "/path/to/official-pubkey.gpg"
                }
            ],
            "hostname:5000/vendor/product": [
                {
                    "type": "signedBy",
                    "keyType": "GPGKeys",
                    "keyPath": "/path/to/vendor-pubkey.gpg",
                    "signedIdentity": {
                        "type": "exactRepository",
                        "dockerRepository": "vendor-hostname/product/repository"
                    }
                },
                {
                    "type": "signedBy",
                    "keyType": "GPGKeys",
                    "keyPath": "/path/to/reviewer-pubkey.gpg"
                }
            ],
            "private-mirror:5000/vendor-mirror": [
                {
                    "type": "signedBy",
                    "keyType": "GPGKeys",
                    "keyPath": "/path/to/vendor-pubkey.gpg",
                    "signedIdentity": {
                        "type": "remapIdentity",
                        "prefix": "private-mirror:5000/vendor-mirror",
                        "signedPrefix": "vendor.example.com"
                    }
                }
            ]
        }
    }
})";

signature_policy parse_ok(std::string_view json) {
  auto p = parse_signature_policy(json);
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? *p : signature_policy{};
}

// A policy whose default is the one requirement `req` (a JSON object).
std::string with_default(const std::string& req) { return R"({"default": [)" + req + "]}"; }

void expect_refused(std::string_view json, errc code, std::string_view in_message) {
  auto p = parse_signature_policy(json);
  ASSERT_FALSE(p) << json;
  EXPECT_EQ(p.error().code(), code) << p.error().message();
  EXPECT_NE(p.error().message().find(in_message), std::string::npos)
      << p.error().message() << " lacks " << in_message;
}

image_reference ref_of(const std::string& text) {
  auto r = parse_reference(text);
  EXPECT_TRUE(r) << text;
  return r ? *r : image_reference{};
}

// --- parsing -----------------------------------------------------------------

TEST(SignaturePolicyParse, ManPageExample) {
  const auto p = parse_ok(man_page_example);
  ASSERT_EQ(p.default_requirements.size(), 1u);
  EXPECT_EQ(p.default_requirements[0].type, req_kind::reject);
  ASSERT_EQ(p.transports.size(), 3u);

  const auto& docker = p.transports.at("docker");
  EXPECT_EQ(docker.size(), 5u);
  EXPECT_EQ(docker.at("docker.io/openshift")[0].type, req_kind::insecure_accept_anything);
  EXPECT_EQ(docker.at("*.temporary-project.example.com")[0].type, req_kind::insecure_accept_anything);
  const auto& full = docker.at("hostname:5000/myns/sigstore-signed-with-full-references")[0];
  EXPECT_EQ(full.type, req_kind::sigstore_signed);
  EXPECT_EQ(full.key_paths, std::vector<std::string>{"/path/to/sigstore-pubkey.pub"});
  EXPECT_EQ(full.identity.type, id_kind::match_repo_digest_or_exact);
  EXPECT_EQ(docker.at("hostname:5000/myns/sigstore-signed-allows-malicious-tag-substitution")[0].identity.type,
            id_kind::match_repository);

  EXPECT_EQ(p.transports.at("dir").at("")[0].type, req_kind::insecure_accept_anything);

  const auto& atomic = p.transports.at("atomic");
  const auto& official = atomic.at("hostname:5000/myns/official")[0];
  EXPECT_EQ(official.type, req_kind::signed_by);
  EXPECT_EQ(official.key_paths, std::vector<std::string>{"/path/to/official-pubkey.gpg"});
  EXPECT_TRUE(official.key_data.empty());
  const auto& product = atomic.at("hostname:5000/vendor/product");
  ASSERT_EQ(product.size(), 2u);
  EXPECT_EQ(product[0].identity.type, id_kind::exact_repository);
  EXPECT_EQ(product[0].identity.docker_repository, "vendor-hostname/product/repository");
  EXPECT_EQ(product[1].key_paths, std::vector<std::string>{"/path/to/reviewer-pubkey.gpg"});
  const auto& mirror = atomic.at("private-mirror:5000/vendor-mirror")[0];
  EXPECT_EQ(mirror.identity.type, id_kind::remap_identity);
  EXPECT_EQ(mirror.identity.prefix, "private-mirror:5000/vendor-mirror");
  EXPECT_EQ(mirror.identity.signed_prefix, "vendor.example.com");
}

TEST(SignaturePolicyParse, AcceptAnythingPolicy) {
  const auto p = parse_ok(R"({"default": [{"type": "insecureAcceptAnything"}]})");
  ASSERT_EQ(p.default_requirements.size(), 1u);
  EXPECT_EQ(p.default_requirements[0].type, req_kind::insecure_accept_anything);
  EXPECT_TRUE(p.transports.empty());
}

TEST(SignaturePolicyParse, MissingDefaultRefused) {
  expect_refused(R"({"transports": {}})", errc::malformed, "default");
}

TEST(SignaturePolicyParse, EmptyRequirementListRefused) {
  expect_refused(R"({"default": []})", errc::malformed, "must not be empty");
  expect_refused(R"({"default": null})", errc::malformed, "must not be empty");
  expect_refused(R"({"default": [{"type": "reject"}], "transports": {"docker": {"a.io/b": []}}})", errc::malformed,
                 "transports.docker.\"a.io/b\": the list of policy requirements must not be empty");
}

TEST(SignaturePolicyParse, UnknownTopLevelKeyRefused) {
  expect_refused(R"({"default": [{"type": "reject"}], "defaults": []})", errc::malformed, "unknown key \"defaults\"");
}

TEST(SignaturePolicyParse, DuplicateKeyRefused) {
  expect_refused(R"({"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]})",
                 errc::malformed, "duplicate key \"default\"");
}

TEST(SignaturePolicyParse, NotJsonRefused) {
  expect_refused(R"({"default": [{"type": "reject"}],})", errc::malformed, "not JSON");
  expect_refused("[]", errc::malformed, "not a JSON object");
}

TEST(SignaturePolicyParse, UnknownRequirementTypeRefused) {
  expect_refused(with_default(R"({"type": "acceptSome"})"), errc::malformed,
                 "default[0].type: unknown policy requirement type \"acceptSome\"");
  expect_refused(with_default(R"({"keyPath": "/k"})"), errc::malformed, "default[0].type: missing");
  expect_refused(with_default(R"("reject")"), errc::malformed, "default[0]: not a JSON object");
}

TEST(SignaturePolicyParse, SignedBaseLayerUnsupported) {
  expect_refused(with_default(R"({"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchExact"}})"),
                 errc::unsupported, "signedBaseLayer");
}

TEST(SignaturePolicyParse, ExtraKeyOnSimpleRequirementRefused) {
  expect_refused(with_default(R"({"type": "reject", "keyPath": "/k"})"), errc::malformed, "unknown key \"keyPath\"");
}

TEST(SignaturePolicyParse, SignedByKeyPaths) {
  const auto p =
      parse_ok(with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["a.gpg", "/b.gpg"]})"));
  EXPECT_EQ(p.default_requirements[0].key_paths, (std::vector<std::string>{"a.gpg", "/b.gpg"}));
}

TEST(SignaturePolicyParse, SignedByKeyDataIsBase64Decoded) {
  const std::string keyring = "\x99\x01\x0d binary keyring";
  const auto p = parse_ok(
      with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyData": ")" + base64_encode(keyring) + "\"}"));
  EXPECT_EQ(p.default_requirements[0].key_data, std::vector<std::string>{keyring});
  EXPECT_TRUE(p.default_requirements[0].key_paths.empty());
}

TEST(SignaturePolicyParse, SignedByKeyDataNotBase64Refused) {
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyData": "%%%"})"), errc::malformed,
                 "default[0].keyData: not base64");
}

TEST(SignaturePolicyParse, SignedByNeedsExactlyOneKeySource) {
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "GPGKeys"})"), errc::malformed,
                 "none of keyPath, keyPaths and keyData");
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyData": "AA=="})"),
                 errc::malformed, "more than one of keyPath, keyPaths and keyData");
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyPath": ""})"), errc::malformed,
                 "default[0].keyPath: empty");
}

TEST(SignaturePolicyParse, SignedByKeyTypeChecked) {
  expect_refused(with_default(R"({"type": "signedBy", "keyPath": "/k"})"), errc::malformed,
                 "default[0].keyType: missing");
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "PGP", "keyPath": "/k"})"), errc::malformed,
                 "unknown keyType \"PGP\"");
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/k"})"),
                 errc::unsupported, "X509Certificates");
}

TEST(SignaturePolicyParse, SignedByUnknownFieldRefused) {
  expect_refused(with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyDatas": []})"),
                 errc::malformed, "unknown key \"keyDatas\"");
}

TEST(SignaturePolicyParse, ErrorNamesJsonPathOfScope) {
  expect_refused(
      R"({"default": [{"type": "reject"}], "transports": {"docker": {"host/repo": [)"
      R"({"type": "signedBy", "keyType": "GPGKeys", "keyPath": 7}]}}})",
      errc::malformed, "transports.docker.\"host/repo\"[0].keyPath: not a string");
}

TEST(SignaturePolicyParse, SigstoreSignedKeySources) {
  const auto pem = std::string("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n");
  auto p = parse_ok(with_default(R"({"type": "sigstoreSigned", "keyPaths": ["/a.pub", "b.pub"]})"));
  EXPECT_EQ(p.default_requirements[0].type, req_kind::sigstore_signed);
  EXPECT_EQ(p.default_requirements[0].key_paths, (std::vector<std::string>{"/a.pub", "b.pub"}));
  p = parse_ok(with_default(R"({"type": "sigstoreSigned", "keyData": ")" + base64_encode(pem) + "\"}"));
  EXPECT_EQ(p.default_requirements[0].key_data, std::vector<std::string>{pem});
  p = parse_ok(with_default(R"({"type": "sigstoreSigned", "keyDatas": [")" + base64_encode(pem) + R"(", ")" +
                            base64_encode("other") + "\"]}"));
  EXPECT_EQ(p.default_requirements[0].key_data, (std::vector<std::string>{pem, "other"}));
}

TEST(SignaturePolicyParse, SigstoreSignedNeedsExactlyOneKeySource) {
  expect_refused(with_default(R"({"type": "sigstoreSigned"})"), errc::malformed, "none of keyPath");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyPath": "/a", "keyPaths": ["/b"]})"), errc::malformed,
                 "more than one of keyPath");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyPaths": []})"), errc::malformed,
                 "default[0].keyPaths: contains no entries");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyDatas": []})"), errc::malformed,
                 "default[0].keyDatas: contains no entries");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyDatas": ["AA==", "!"]})"), errc::malformed,
                 "default[0].keyDatas[1]: not base64");
}

TEST(SignaturePolicyParse, SigstoreFulcioAndRekorUnsupported) {
  expect_refused(with_default(R"({"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "https://i",
                                  "subjectEmail": "a@b"}, "rekorPublicKeyPath": "/r.pub"})"),
                 errc::unsupported, "fulcio");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyPath": "/k", "rekorPublicKeyPath": "/r.pub"})"),
                 errc::unsupported, "rekorPublicKeyPath");
  expect_refused(with_default(R"({"type": "sigstoreSigned", "pki": {}})"), errc::unsupported, "pki");
}

TEST(SignaturePolicyParse, SigstoreSignedUnknownFieldRefused) {
  expect_refused(with_default(R"({"type": "sigstoreSigned", "keyPath": "/k", "keyType": "GPGKeys"})"),
                 errc::malformed, "unknown key \"keyType\"");
}

TEST(SignaturePolicyParse, EachSignedIdentityKind) {
  const auto identity_of = [](const std::string& id) {
    auto p = parse_ok(with_default(R"({"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": )" + id + "}"));
    return p.default_requirements.empty() ? signed_identity{} : p.default_requirements[0].identity;
  };
  EXPECT_EQ(identity_of(R"({"type": "matchExact"})").type, id_kind::match_exact);
  EXPECT_EQ(identity_of(R"({"type": "matchRepoDigestOrExact"})").type, id_kind::match_repo_digest_or_exact);
  EXPECT_EQ(identity_of(R"({"type": "matchRepository"})").type, id_kind::match_repository);
  auto id = identity_of(R"({"type": "exactReference", "dockerReference": "busybox:1"})");
  EXPECT_EQ(id.type, id_kind::exact_reference);
  EXPECT_EQ(id.docker_reference, "busybox:1");
  id = identity_of(R"({"type": "exactRepository", "dockerRepository": "example.com/app"})");
  EXPECT_EQ(id.type, id_kind::exact_repository);
  EXPECT_EQ(id.docker_repository, "example.com/app");
  id = identity_of(R"({"type": "remapIdentity", "prefix": "mirror:5000", "signedPrefix": "example.com/ns"})");
  EXPECT_EQ(id.type, id_kind::remap_identity);
  EXPECT_EQ(id.prefix, "mirror:5000");
  EXPECT_EQ(id.signed_prefix, "example.com/ns");
}

TEST(SignaturePolicyParse, SignedIdentityErrors) {
  const auto with_identity = [](const std::string& id) {
    return with_default(R"({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "signedIdentity": )" + id + "}");
  };
  expect_refused(with_identity(R"({"type": "matchSomething"})"), errc::malformed,
                 "default[0].signedIdentity.type: unknown signedIdentity type");
  expect_refused(with_identity("null"), errc::malformed, "default[0].signedIdentity: not a JSON object");
  expect_refused(with_identity(R"({"type": "matchExact", "dockerReference": "a:b"})"), errc::malformed,
                 "unknown key \"dockerReference\"");
  expect_refused(with_identity(R"({"type": "exactReference", "dockerReference": "busybox"})"), errc::malformed,
                 "names neither a tag nor a digest");
  expect_refused(with_identity(R"({"type": "exactReference", "dockerReference": "Bad/Ref:1"})"), errc::malformed,
                 "signedIdentity.dockerReference");
  expect_refused(with_identity(R"({"type": "exactReference"})"), errc::malformed, "dockerReference: missing");
  expect_refused(with_identity(R"({"type": "exactRepository", "dockerRepository": "UPPER"})"), errc::malformed,
                 "signedIdentity.dockerRepository");
  expect_refused(with_identity(R"({"type": "remapIdentity", "prefix": "example.com/app:tag", "signedPrefix": "a.io"})"),
                 errc::malformed, "signedIdentity.prefix");
  expect_refused(with_identity(R"({"type": "remapIdentity", "prefix": "a.io", "signedPrefix": ""})"), errc::malformed,
                 "signedIdentity.signedPrefix");
  expect_refused(with_identity(R"({"type": "remapIdentity", "prefix": "a.io"})"), errc::malformed,
                 "signedPrefix: missing");
}

TEST(SignaturePolicyParse, FileTransportScopesMustBeCleanAbsolutePaths) {
  const auto with_scope = [](const std::string& transport, const std::string& scope) {
    return R"({"default": [{"type": "reject"}], "transports": {")" + transport + R"(": {")" + scope +
           R"(": [{"type": "reject"}]}}})";
  };
  for (const char* t : {"oci", "oci-archive", "docker-archive"}) {
    EXPECT_TRUE(parse_signature_policy(with_scope(t, "/srv/images/app"))) << t;
    EXPECT_TRUE(parse_signature_policy(with_scope(t, "/srv/images/app:v1"))) << t;
    EXPECT_TRUE(parse_signature_policy(with_scope(t, ""))) << t;
    for (const char* bad : {"relative/dir", "/", "/srv//app", "/srv/./app", "/srv/../app", "/srv/app/"})
      expect_refused(with_scope(t, bad), errc::malformed, "scope must be a clean absolute path");
  }
  // docker scopes and unknown transports' scopes are taken as written.
  EXPECT_TRUE(parse_signature_policy(with_scope("docker", "anything goes")));
  EXPECT_TRUE(parse_signature_policy(with_scope("containers-storage", "relative")));
}

TEST(SignaturePolicyParse, TransportsMustBeObjects) {
  expect_refused(R"({"default": [{"type": "reject"}], "transports": []})", errc::malformed,
                 "transports: not a JSON object");
  expect_refused(R"({"default": [{"type": "reject"}], "transports": {"docker": []}})", errc::malformed,
                 "transports.docker: not a JSON object");
}

// --- scopes ------------------------------------------------------------------

TEST(PolicyTransportName, NamesOfContainersTransports) {
  EXPECT_EQ(policy_transport_name(transport::docker), "docker");
  EXPECT_EQ(policy_transport_name(transport::oci), "oci");
  EXPECT_EQ(policy_transport_name(transport::oci_archive), "oci-archive");
  EXPECT_EQ(policy_transport_name(transport::docker_archive), "docker-archive");
  EXPECT_EQ(policy_transport_name(transport::oci_url), "oci+https");
}

TEST(PolicyScopes, DockerOrderMostSpecificFirst) {
  EXPECT_EQ(policy_scopes(ref_of("docker://busybox"), ""),
            (std::vector<std::string>{"docker.io/library/busybox:latest", "docker.io/library/busybox",
                                      "docker.io/library", "docker.io", "*.io"}));
}

TEST(PolicyScopes, DockerWithPortDropsItForWildcards) {
  EXPECT_EQ(policy_scopes(ref_of("docker://registry.example.com:5000/ns/app:v1"), ""),
            (std::vector<std::string>{"registry.example.com:5000/ns/app:v1", "registry.example.com:5000/ns/app",
                                      "registry.example.com:5000/ns", "registry.example.com:5000", "*.example.com",
                                      "*.com"}));
  EXPECT_EQ(policy_scopes(ref_of("docker://localhost:5000/app:v1"), ""),
            (std::vector<std::string>{"localhost:5000/app:v1", "localhost:5000/app", "localhost:5000"}));
}

TEST(PolicyScopes, DockerByDigest) {
  const auto scopes = policy_scopes(ref_of("docker://localhost:5000/app@" + sha), "");
  ASSERT_FALSE(scopes.empty());
  EXPECT_EQ(scopes[0], "localhost:5000/app@" + sha);
  EXPECT_EQ(scopes[1], "localhost:5000/app");
}

TEST(PolicyScopes, OciOrderTagThenPathThenParents) {
  EXPECT_EQ(policy_scopes(ref_of("oci:layouts/app:v1"), "/srv/layouts/app"),
            (std::vector<std::string>{"/srv/layouts/app:v1", "/srv/layouts/app", "/srv/layouts", "/srv"}));
  EXPECT_EQ(policy_scopes(ref_of("oci:/srv/app"), "/srv/app"), (std::vector<std::string>{"/srv/app", "/srv"}));
  EXPECT_EQ(policy_scopes(ref_of("oci:/srv/app@" + sha), "/srv/app"), (std::vector<std::string>{"/srv/app", "/srv"}));
}

TEST(PolicyScopes, ArchivesUseTheirPath) {
  EXPECT_EQ(policy_scopes(ref_of("oci-archive:/tmp/a.tar:v1"), "/tmp/a.tar"),
            (std::vector<std::string>{"/tmp/a.tar:v1", "/tmp/a.tar", "/tmp"}));
  EXPECT_EQ(policy_scopes(ref_of("docker-archive:/tmp/d.tar"), "/tmp/d.tar"),
            (std::vector<std::string>{"/tmp/d.tar", "/tmp"}));
}

TEST(PolicyScopes, OciUrlHasNone) {
  EXPECT_TRUE(policy_scopes(ref_of("oci+https://cdn.example.com/layout:v1"), "").empty());
}

TEST(RequirementsFor, MostSpecificDockerScopeWins) {
  const auto p = parse_ok(R"({
    "default": [{"type": "reject"}],
    "transports": {"docker": {
      "": [{"type": "reject"}, {"type": "reject"}],
      "docker.io": [{"type": "sigstoreSigned", "keyPath": "/hub.pub"}],
      "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}],
      "docker.io/library/busybox:1": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/one.gpg"}],
      "*.example.com": [{"type": "sigstoreSigned", "keyPath": "/wild.pub"}]
    }}})");
  std::string scope;
  EXPECT_EQ(requirements_for(p, ref_of("docker://busybox:1"), "", &scope)[0].type, req_kind::signed_by);
  EXPECT_EQ(scope, "docker.io/library/busybox:1");
  EXPECT_EQ(requirements_for(p, ref_of("docker://busybox:2"), "", &scope)[0].type, req_kind::insecure_accept_anything);
  EXPECT_EQ(scope, "docker.io/library/busybox");
  EXPECT_EQ(requirements_for(p, ref_of("docker://alpine"), "", &scope)[0].key_paths[0], "/hub.pub");
  EXPECT_EQ(scope, "docker.io");
  EXPECT_EQ(requirements_for(p, ref_of("docker://r.example.com/app:v"), "", &scope)[0].key_paths[0], "/wild.pub");
  EXPECT_EQ(scope, "*.example.com");
  EXPECT_EQ(requirements_for(p, ref_of("docker://quay.io/app:v"), "", &scope).size(), 2u);
  EXPECT_EQ(scope, "");
}

TEST(RequirementsFor, OciPathScopesAndDefaults) {
  const auto p = parse_ok(R"({
    "default": [{"type": "insecureAcceptAnything"}],
    "transports": {"oci": {
      "/srv/signed": [{"type": "sigstoreSigned", "keyPath": "/k.pub"}],
      "/srv/signed/app:v1": [{"type": "reject"}]
    }}})");
  std::string scope;
  EXPECT_EQ(requirements_for(p, ref_of("oci:/srv/signed/app:v1"), "/srv/signed/app", &scope)[0].type, req_kind::reject);
  EXPECT_EQ(scope, "/srv/signed/app:v1");
  EXPECT_EQ(requirements_for(p, ref_of("oci:/srv/signed/app:v2"), "/srv/signed/app", &scope)[0].type,
            req_kind::sigstore_signed);
  EXPECT_EQ(scope, "/srv/signed");
  // No "" scope for oci: the global default.
  EXPECT_EQ(requirements_for(p, ref_of("oci:/home/app"), "/home/app", &scope)[0].type,
            req_kind::insecure_accept_anything);
  EXPECT_EQ(scope, "default");
  // Another transport's scopes never apply.
  EXPECT_EQ(requirements_for(p, ref_of("oci-archive:/srv/signed/a.tar"), "/srv/signed/a.tar", &scope)[0].type,
            req_kind::insecure_accept_anything);
  EXPECT_EQ(scope, "default");
}

TEST(RequirementsFor, ScopeOutputIsOptional) {
  const auto p = parse_ok(R"({"default": [{"type": "reject"}]})");
  EXPECT_EQ(requirements_for(p, ref_of("docker://busybox"), "")[0].type, req_kind::reject);
}

// --- signedIdentity matching -------------------------------------------------

signed_identity identity(id_kind k) {
  signed_identity id;
  id.type = k;
  return id;
}

std::optional<docker_reference> image(const std::string& text) {
  auto r = parse_docker_reference(text);
  EXPECT_TRUE(r) << text;
  return r ? std::optional<docker_reference>(*r) : std::nullopt;
}

void expect_match(const signed_identity& id, const std::optional<docker_reference>& img, std::string_view signed_ref) {
  auto r = match_signed_identity(id, img, signed_ref);
  EXPECT_TRUE(r) << signed_ref << ": " << (r ? "" : r.error().message());
}

void expect_mismatch(const signed_identity& id, const std::optional<docker_reference>& img,
                     std::string_view signed_ref) {
  auto r = match_signed_identity(id, img, signed_ref);
  ASSERT_FALSE(r) << signed_ref << " matched";
  EXPECT_EQ(r.error().code(), errc::permission_denied) << r.error().message();
  EXPECT_NE(r.error().message().find("signed identity"), std::string::npos) << r.error().message();
}

TEST(MatchSignedIdentity, MatchExact) {
  const auto id = identity(id_kind::match_exact);
  expect_match(id, image("busybox:1"), "docker.io/library/busybox:1");
  expect_match(id, image("busybox:1"), "busybox:1");  // normalized before comparing
  expect_mismatch(id, image("busybox:1"), "busybox:2");
  expect_mismatch(id, image("busybox:1"), "busybox");
  // By digest, a tag signature does not match exactly.
  expect_mismatch(id, image("busybox@" + sha), "busybox:1");
  expect_match(id, image("busybox@" + sha), "busybox@" + sha);
}

TEST(MatchSignedIdentity, MatchRepoDigestOrExactByTagNeedsSameTag) {
  const auto id = identity(id_kind::match_repo_digest_or_exact);
  expect_match(id, image("example.com/app:v1"), "example.com/app:v1");
  expect_mismatch(id, image("example.com/app:v1"), "example.com/app:v2");
  expect_mismatch(id, image("example.com/app:v1"), "example.com/other:v1");
  expect_mismatch(id, image("example.com/app:v1"), "example.com/app@" + sha);
}

TEST(MatchSignedIdentity, MatchRepoDigestOrExactByDigestAcceptsSameRepository) {
  const auto id = identity(id_kind::match_repo_digest_or_exact);
  expect_match(id, image("example.com/app@" + sha), "example.com/app:v1");
  expect_match(id, image("example.com/app@" + sha), "example.com/app:latest");
  expect_mismatch(id, image("example.com/app@" + sha), "example.com/other:v1");
  // A signature naming a repository alone is never exact enough.
  expect_mismatch(id, image("example.com/app@" + sha), "example.com/app");
}

TEST(MatchSignedIdentity, DefaultIsMatchRepoDigestOrExact) {
  expect_match(signed_identity{}, image("example.com/app@" + sha), "example.com/app:v9");
  expect_mismatch(signed_identity{}, image("example.com/app:v1"), "example.com/app:v9");
}

TEST(MatchSignedIdentity, MatchRepository) {
  const auto id = identity(id_kind::match_repository);
  expect_match(id, image("example.com/app:latest"), "example.com/app:v1.2");
  expect_match(id, image("example.com/app:latest"), "example.com/app");  // cosign signs repositories
  expect_mismatch(id, image("example.com/app:latest"), "example.com/app2:latest");
  expect_mismatch(id, image("example.com/app:latest"), "other.com/app:latest");
}

TEST(MatchSignedIdentity, ExactReference) {
  auto id = identity(id_kind::exact_reference);
  id.docker_reference = "vendor.example.com/app:v1";
  expect_match(id, image("mirror:5000/app:latest"), "vendor.example.com/app:v1");
  expect_mismatch(id, image("mirror:5000/app:latest"), "vendor.example.com/app:v2");
  expect_mismatch(id, image("mirror:5000/app:latest"), "mirror:5000/app:latest");
  // No image identity needed: it works for oci: images.
  expect_match(id, std::nullopt, "vendor.example.com/app:v1");
}

TEST(MatchSignedIdentity, ExactRepository) {
  auto id = identity(id_kind::exact_repository);
  id.docker_repository = "vendor.example.com/app";
  expect_match(id, image("mirror:5000/app:latest"), "vendor.example.com/app:v7");
  expect_match(id, std::nullopt, "vendor.example.com/app");
  expect_mismatch(id, image("mirror:5000/app:latest"), "vendor.example.com/app2:v7");
}

TEST(MatchSignedIdentity, RemapIdentityReplacesPrefixThenMatchesRepoDigestOrExact) {
  auto id = identity(id_kind::remap_identity);
  id.prefix = "private-mirror:5000/vendor-mirror";
  id.signed_prefix = "vendor.example.com";
  expect_match(id, image("private-mirror:5000/vendor-mirror/product/image1:latest"),
               "vendor.example.com/product/image1:latest");
  expect_mismatch(id, image("private-mirror:5000/vendor-mirror/product/image1:latest"),
                  "vendor.example.com/product/image1:v2");
  expect_mismatch(id, image("private-mirror:5000/vendor-mirror/product/image1:latest"),
                  "private-mirror:5000/vendor-mirror/product/image1:latest");
  // By digest: any tag of the remapped repository.
  expect_match(id, image("private-mirror:5000/vendor-mirror/product/image1@" + sha),
               "vendor.example.com/product/image1:v3");
}

TEST(MatchSignedIdentity, RemapIdentityPrefixOnlyAtComponentBoundary) {
  auto id = identity(id_kind::remap_identity);
  id.prefix = "mirror.example.com/ns";
  id.signed_prefix = "vendor.example.com";
  // "ns2" is not under "ns": no remapping, so the image's own name must match.
  expect_mismatch(id, image("mirror.example.com/ns2/app:v1"), "vendor.example.com2/app:v1");
  expect_match(id, image("mirror.example.com/ns2/app:v1"), "mirror.example.com/ns2/app:v1");
  // The whole name equal to the prefix is remapped too.
  id.prefix = "mirror.example.com/ns/app";
  id.signed_prefix = "vendor.example.com/app";
  expect_match(id, image("mirror.example.com/ns/app:v1"), "vendor.example.com/app:v1");
}

TEST(MatchSignedIdentity, RemapIdentityToNonCanonicalNameNeverMatches) {
  auto id = identity(id_kind::remap_identity);
  id.prefix = "mirror.example.com";
  id.signed_prefix = "docker.io";  // "docker.io/busybox" is not canonical: library/ is missing
  auto r = match_signed_identity(id, image("mirror.example.com/busybox:1"), "docker.io/library/busybox:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::permission_denied);
  EXPECT_NE(r.error().message().find("not a canonical"), std::string::npos) << r.error().message();
}

TEST(MatchSignedIdentity, KindsNeedingImageIdentityRefuseImagesWithout) {
  for (auto k : {id_kind::match_exact, id_kind::match_repo_digest_or_exact, id_kind::match_repository,
                 id_kind::remap_identity}) {
    auto r = match_signed_identity(identity(k), std::nullopt, "example.com/app:v1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().message();
    EXPECT_NE(r.error().message().find("exactReference or exactRepository"), std::string::npos);
  }
}

TEST(MatchSignedIdentity, UnparsableSignedReferenceIsMalformed) {
  for (auto k : {id_kind::match_exact, id_kind::match_repository, id_kind::exact_repository}) {
    auto id = identity(k);
    id.docker_repository = "example.com/app";
    auto r = match_signed_identity(id, image("example.com/app:v1"), "Example.com/App:v1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::malformed) << r.error().message();
  }
}

}  // namespace
}  // namespace ocipipe
