// cosign-style key signatures kept with the image: read from an image layout
// (a directory, an archive, static files) or a registry, written to an oci:
// layout (index.json under the layout lock, blobs first) or a registry (the
// "sha256-<hex>.sig" tag, referrers, and the tag-schema index for
// registries without the referrers API).
#include "pipeline/sigstore_attachments.h"

#include <algorithm>
#include <memory>
#include <span>

#include "io/layout_writer.h"
#include "io/registry_client.h"
#include "pipeline/remote.h"
#include "pipeline/verified_blob.h"
#include "stages/base64.h"
#include "stages/digester.h"
#include "stages/image_json.h"
#include "stages/image_json_write.h"
#include "stages/layout_index.h"
#include "stages/oci/byte_source.h"
#include "stages/oci/media_type.h"

namespace ocipipe::pipeline {
namespace {

// distribution-spec's manifest limit; cosign payloads are a few hundred
// bytes, so a payload this large is no signature.
constexpr std::size_t max_manifest_bytes = 4u << 20;
constexpr std::size_t max_payload_bytes = 4u << 20;

std::string referrer_name(const digest& d) { return "referrer " + d.str(); }

std::string layer_source(const std::string& where, std::size_t i) {
  return where + " " + json_index_path("layers", i);
}

digest digest_of(const std::string& bytes, digest_algorithm alg = digest_algorithm::sha256) {
  return digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())), alg);
}

descriptor blob_descriptor(std::string_view media_type, const std::string& bytes) {
  descriptor d;
  d.media_type = std::string(media_type);
  d.digest = digest_of(bytes);
  d.size = static_cast<std::int64_t>(bytes.size());
  return d;
}

// A descriptor naming a document, with none of the fields an index.json
// entry carried for its own purposes (ref.name, platform).
descriptor bare(const descriptor& d) {
  descriptor out;
  out.media_type = d.media_type;
  out.digest = d.digest;
  out.size = d.size;
  return out;
}

// A referrer carries cosign signatures when its artifactType says so, or,
// as cosign's first OCI 1.1 writer made them, its config media type does.
bool is_signature_referrer(const manifest& m) {
  if (!m.artifact_type.empty()) return m.artifact_type == cosign_signature_artifact_type;
  return m.config.media_type == cosign_signature_artifact_type;
}

// ---- image layouts ----

struct payload_reader {
  virtual ~payload_reader() = default;
  // The verified bytes of `d`: size and digest both checked.
  virtual result<std::string> read(const descriptor& d) = 0;
};

attached_signature problem_entry(std::string source, std::string problem) {
  attached_signature a;
  a.source = std::move(source);
  a.problem = std::move(problem);
  return a;
}

// The signatures of one signature manifest (`where`: its tag or referrer
// name), every payload layer an entry of its own.
void collect_payloads(payload_reader& reader, std::string_view manifest_bytes, const std::string& where,
                      std::vector<attached_signature>& out) {
  auto entries = parse_signature_manifest(manifest_bytes);
  if (!entries) {
    out.push_back(problem_entry(where, entries.error().message()));
    return;
  }
  for (auto& e : *entries) {
    std::string source = layer_source(where, e.index);
    if (!e.layer) {
      out.push_back(problem_entry(std::move(source), e.layer.error().message()));
      continue;
    }
    const auto& l = *e.layer;
    if (l.payload.size > static_cast<std::int64_t>(max_payload_bytes)) {
      out.push_back(problem_entry(std::move(source), "payload of " + std::to_string(l.payload.size) +
                                                         " bytes, too large for a signature"));
      continue;
    }
    auto bytes = reader.read(l.payload);
    if (!bytes) {
      out.push_back(problem_entry(std::move(source), "payload: " + bytes.error().message()));
      continue;
    }
    out.push_back(attached_signature{std::move(*bytes), l.signature_base64, std::move(source), {}});
  }
}

struct layout_payloads final : payload_reader {
  const io::image_layout& store;
  explicit layout_payloads(const io::image_layout& s) : store(s) {}
  result<std::string> read(const descriptor& d) override { return read_verified_blob(store, d, max_payload_bytes); }
};

// Any image layout: a directory, an archive, static files over HTTP.
result<std::vector<attached_signature>> read_from_layout(const image_reference& ref, const io::image_layout& store,
                                                         const digest& subject) {
  OCIPIPE_ASSIGN_OR_RETURN(auto text, store.read_file("index.json"));
  auto index = parse_image_index(text);
  if (!index) return tl::unexpected(std::move(index).error().context(quote(ref.str()) + ": index.json"));

  std::vector<attached_signature> out;
  layout_payloads payloads(store);
  const std::string tag = cosign_signature_tag(subject);
  std::vector<digest> seen;
  auto first_time = [&seen](const digest& d) {
    if (std::find(seen.begin(), seen.end(), d) != seen.end()) return false;
    seen.push_back(d);
    return true;
  };

  // The tagged manifest first, as cosign lists them.
  for (const auto& entry : index->manifests) {
    if (entry.ref_name() != tag || !first_time(entry.digest)) continue;
    auto bytes = read_verified_blob(store, entry, max_manifest_bytes);
    if (!bytes) {
      out.push_back(problem_entry(tag, "manifest " + entry.digest.str() + ": " + bytes.error().message()));
      continue;
    }
    collect_payloads(payloads, *bytes, tag, out);
  }

  // Then the referrers: index.json entries whose manifest names `subject`.
  for (const auto& entry : index->manifests) {
    if (!media_type::is_image_manifest(entry.media_type) || entry.digest == subject) continue;
    if (!entry.artifact_type.empty() && entry.artifact_type != cosign_signature_artifact_type) continue;
    if (entry.size > static_cast<std::int64_t>(max_manifest_bytes)) continue;
    if (std::find(seen.begin(), seen.end(), entry.digest) != seen.end()) continue;
    auto bytes = read_verified_blob(store, entry, max_manifest_bytes);
    if (!bytes) {
      // Only a problem when it could have been a signature: the entry said so.
      if (entry.artifact_type == cosign_signature_artifact_type)
        out.push_back(problem_entry(referrer_name(entry.digest), bytes.error().message()));
      continue;
    }
    auto m = parse_manifest(*bytes);
    if (!m || !m->subject || !(m->subject->digest == subject) || !is_signature_referrer(*m)) continue;
    first_time(entry.digest);
    collect_payloads(payloads, *bytes, referrer_name(entry.digest), out);
  }
  return out;
}

result<attached_write> attach_to_layout(const image_reference& ref, const descriptor& subject,
                                        const cosign_signature_layer& layer, const std::string& payload,
                                        bool as_referrer) {
  const std::string where = "layout " + quote(ref.path);
  OCIPIPE_ASSIGN_OR_RETURN(auto writer, io::layout_writer::open(ref.path, false));
  OCIPIPE_ASSIGN_OR_RETURN(auto store, writer.reader());
  OCIPIPE_ASSIGN_OR_RETURN(auto text, writer.read_index());
  auto index = parse_image_index(text);
  if (!index) return tl::unexpected(std::move(index).error().context(where + ": index.json"));

  attached_write out;
  const std::string tag = cosign_signature_tag(subject.digest);
  std::optional<signature_manifest> sm;
  if (!as_referrer) {
    for (const auto& entry : index->manifests) {
      if (entry.ref_name() != tag) continue;
      // What is there is kept: an unreadable or altered manifest is not
      // replaced by one holding only the new signature.
      auto bytes = read_verified_blob(store, entry, max_manifest_bytes);
      if (!bytes) return tl::unexpected(std::move(bytes).error().context(where + ": " + tag));
      auto appended = append_signature_layer(*bytes, layer);
      if (!appended) return tl::unexpected(std::move(appended).error().context(where + ": " + tag));
      if (!*appended) {
        out.stored_at = tag;
        out.manifest = bare(entry);
        return out;
      }
      sm = std::move(*appended);
      break;
    }
  }
  if (!sm) sm = make_signature_manifest({layer}, as_referrer ? std::optional<descriptor>(bare(subject)) : std::nullopt);

  const descriptor manifest_d = blob_descriptor(media_type::image_manifest, sm->manifest_json);
  // Blobs first, index.json last: a reader never finds a manifest whose
  // blobs are missing, and a killed run leaves only unreferenced blobs.
  OCIPIPE_TRY(writer.put_blob(layer.payload.digest, payload));
  OCIPIPE_TRY(writer.put_blob(sm->config.digest, sm->config_json));
  OCIPIPE_TRY(writer.put_blob(manifest_d.digest, sm->manifest_json));
  if (as_referrer) {
    descriptor entry = manifest_d;
    entry.artifact_type = std::string(cosign_signature_artifact_type);
    // The same signature attached twice is the same manifest: one entry.
    const bool present = std::any_of(index->manifests.begin(), index->manifests.end(),
                                     [&](const descriptor& d) { return d.digest == entry.digest; });
    if (!present) {
      index->manifests.push_back(entry);
      OCIPIPE_TRY(writer.write_index(image_index_json(*index)));
    }
    out.stored_at = referrer_name(manifest_d.digest);
  } else {
    OCIPIPE_TRY(set_tag(*index, manifest_d, tag));
    OCIPIPE_TRY(writer.write_index(image_index_json(*index)));
    out.stored_at = tag;
  }
  out.manifest = manifest_d;
  return out;
}

// ---- registries ----

struct registry_target {
  std::shared_ptr<io::registry_client> client;
  std::string repository;
  std::unique_ptr<remote_session> own_session;  ///< when the caller gave none
};

result<registry_target> connect(const image_reference& ref, remote_session* remote) {
  OCIPIPE_ASSIGN_OR_RETURN(auto where, parse_registry_path(ref.path));
  registry_target t;
  if (remote == nullptr) {
    t.own_session = std::make_unique<remote_session>(remote_options{});
    remote = t.own_session.get();
  }
  OCIPIPE_ASSIGN_OR_RETURN(t.client, remote->client(where.host));
  t.repository = std::move(where.repository);
  return t;
}

struct registry_payloads final : payload_reader {
  io::registry_client& client;
  const std::string& repo;
  registry_payloads(io::registry_client& c, const std::string& r) : client(c), repo(r) {}
  result<std::string> read(const descriptor& d) override {
    OCIPIPE_ASSIGN_OR_RETURN(auto bytes, client.read_blob(repo, d, max_payload_bytes));
    if (d.digest.algorithm() != digest_algorithm::unregistered) {
      const digest got = digest_of(bytes, d.digest.algorithm());
      if (!(got == d.digest))
        return fail(errc::digest_mismatch, "blob " + d.digest.str() + ": digest mismatch: content is " + got.str());
    }
    return bytes;
  }
};

// Registry failures that say something about one stored document (not the
// network, not our credentials): reported, and the others still read.
bool document_problem(const error& e) {
  return e.code() == errc::digest_mismatch || e.code() == errc::size_mismatch || e.code() == errc::not_found ||
         e.code() == errc::unsupported;
}

result<std::vector<attached_signature>> read_from_registry(const image_reference& ref, const digest& subject,
                                                           remote_session* remote) {
  OCIPIPE_ASSIGN_OR_RETURN(auto t, connect(ref, remote));
  std::vector<attached_signature> out;
  registry_payloads payloads(*t.client, t.repository);

  const std::string tag = cosign_signature_tag(subject);
  auto tagged = t.client->get_manifest(t.repository, tag);
  if (tagged) {
    collect_payloads(payloads, tagged->bytes, tag, out);
  } else if (tagged.error().code() != errc::not_found) {
    if (!document_problem(tagged.error())) return tl::unexpected(std::move(tagged).error());
    out.push_back(problem_entry(tag, tagged.error().message()));
  }

  auto refs = t.client->referrers(t.repository, subject, std::string(cosign_signature_artifact_type));
  if (!refs) return tl::unexpected(std::move(refs).error());
  for (const auto& entry : refs->manifests) {
    const std::string name = referrer_name(entry.digest);
    auto m = t.client->get_manifest(t.repository, entry.digest.str());
    if (!m) {
      if (!document_problem(m.error())) return tl::unexpected(std::move(m).error());
      out.push_back(problem_entry(name, m.error().message()));
      continue;
    }
    // The registry's list is its claim; the manifest itself must name the subject.
    auto parsed = parse_manifest(m->bytes);
    if (!parsed || !parsed->subject || !(parsed->subject->digest == subject) || !is_signature_referrer(*parsed)) {
      out.push_back(problem_entry(name, "listed as a signature of " + subject.str() + " but is none"));
      continue;
    }
    collect_payloads(payloads, m->bytes, name, out);
  }
  return out;
}

result<void> push_blob(registry_target& t, const descriptor& d, const std::string& bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto have, t.client->head_blob(t.repository, d.digest));
  if (have && *have == static_cast<std::uint64_t>(d.size)) return {};
  memory_source src(std::as_bytes(std::span(bytes.data(), bytes.size())));
  return t.client->upload_blob(t.repository, d, src);
}

// distribution-spec "Pushing Manifests with Subject", for a registry
// without the referrers API: the image index tagged "<alg>-<hex>" lists
// every referrer of the subject, kept up to date by the clients.
result<void> update_referrers_tag(registry_target& t, const digest& subject, const descriptor& entry) {
  const std::string tag = std::string(subject.algorithm_name().substr(0, 32)) + "-" +
                          std::string(subject.encoded().substr(0, 64));
  const std::string what = "referrers tag " + quote(tag);
  image_index index;
  index.media_type = std::string(media_type::image_index);
  auto have = t.client->get_manifest(t.repository, tag);
  if (have) {
    if (!media_type::is_image_index(have->desc.media_type))
      return fail(errc::malformed, what + ": holds a " + quote(have->desc.media_type) + ", not an image index");
    auto parsed = parse_image_index(have->bytes);
    if (!parsed) return tl::unexpected(std::move(parsed).error().context(what));
    index = std::move(*parsed);
    if (index.media_type.empty()) index.media_type = std::string(media_type::image_index);
  } else if (have.error().code() != errc::not_found) {
    return tl::unexpected(std::move(have).error().context(what));
  }
  for (const auto& d : index.manifests)
    if (d.digest == entry.digest) return {};  // listed already: no duplicate
  index.manifests.push_back(entry);
  auto put = t.client->put_manifest(t.repository, tag, image_index_json(index), std::string(media_type::image_index));
  if (!put) return tl::unexpected(std::move(put).error().context(what));
  return {};
}

result<attached_write> attach_to_registry(const image_reference& ref, const descriptor& subject,
                                          const cosign_signature_layer& layer, const std::string& payload,
                                          bool as_referrer, remote_session* remote) {
  OCIPIPE_ASSIGN_OR_RETURN(auto t, connect(ref, remote));
  const std::string where = quote(ref.str());
  const std::string tag = cosign_signature_tag(subject.digest);
  attached_write out;
  std::optional<signature_manifest> sm;
  if (!as_referrer) {
    auto have = t.client->get_manifest(t.repository, tag);
    if (have) {
      auto appended = append_signature_layer(have->bytes, layer);
      if (!appended) return tl::unexpected(std::move(appended).error().context(where + ": " + tag));
      if (!*appended) {
        out.stored_at = tag;
        out.manifest = bare(have->desc);
        return out;
      }
      sm = std::move(*appended);
    } else if (have.error().code() != errc::not_found) {
      return tl::unexpected(std::move(have).error().context(where + ": " + tag));
    }
  }
  if (!sm) sm = make_signature_manifest({layer}, as_referrer ? std::optional<descriptor>(bare(subject)) : std::nullopt);

  const descriptor manifest_d = blob_descriptor(media_type::image_manifest, sm->manifest_json);
  OCIPIPE_TRY(push_blob(t, layer.payload, payload));
  OCIPIPE_TRY(push_blob(t, sm->config, sm->config_json));
  const std::string reference = as_referrer ? manifest_d.digest.str() : tag;
  auto put =
      t.client->put_manifest(t.repository, reference, sm->manifest_json, std::string(media_type::image_manifest));
  if (!put) return tl::unexpected(std::move(put).error().context(where));
  if (!(*put == manifest_d.digest))
    return fail(errc::digest_mismatch, where + ": the registry stored the signature manifest as " + put->str() +
                                           ", not " + manifest_d.digest.str());
  out.manifest = manifest_d;
  if (as_referrer) {
    OCIPIPE_ASSIGN_OR_RETURN(const bool api, t.client->referrers_api(t.repository, subject.digest));
    if (!api) {
      descriptor entry = manifest_d;
      entry.artifact_type = std::string(cosign_signature_artifact_type);
      auto ok = update_referrers_tag(t, subject.digest, entry);
      if (!ok) return tl::unexpected(std::move(ok).error().context(where));
    }
    out.stored_at = referrer_name(manifest_d.digest);
  } else {
    out.stored_at = tag;
  }
  return out;
}

}  // namespace

result<std::vector<attached_signature>> read_attached_signatures(const image_reference& ref,
                                                                 const io::image_layout& store, const digest& subject,
                                                                 remote_session* remote) {
  switch (ref.kind) {
    case transport::docker: return read_from_registry(ref, subject, remote);
    case transport::oci:
    case transport::oci_archive:
    case transport::oci_url: return read_from_layout(ref, store, subject);
    case transport::docker_archive: break;
  }
  return fail(errc::unsupported, "signatures of " + quote(ref.str()) + ": key signatures are not kept in "
                                                                        "docker-archive: images");
}

result<attached_write> attach_signature(const image_reference& ref, const descriptor& subject,
                                        const std::string& payload, const std::string& der_signature,
                                        bool as_referrer, remote_session* remote) {
  if (ref.kind != transport::oci && ref.kind != transport::docker)
    return fail(errc::unsupported, "attach signature to " + quote(ref.str()) +
                                       ": key signatures are written to oci: layouts and docker:// registries only");
  if (subject.digest.empty()) return fail(errc::invalid_argument, "attach signature: no subject digest");
  cosign_signature_layer layer;
  layer.payload = blob_descriptor(cosign_payload_media_type, payload);
  layer.signature_base64 = base64_encode(der_signature);
  if (ref.kind == transport::docker) return attach_to_registry(ref, subject, layer, payload, as_referrer, remote);
  return attach_to_layout(ref, subject, layer, payload, as_referrer);
}

}  // namespace ocipipe::pipeline
