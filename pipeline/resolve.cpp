// Reference resolution against an image layout (DESIGN.md §3).
#include <sys/utsname.h>

#include <optional>

#include "pipeline/resolve.h"

#include "io/image_layout.h"
#include "pipeline/api.h"
#include "pipeline/docker_archive.h"
#include "pipeline/remote.h"
#include "pipeline/verified_blob.h"
#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe {

namespace pipeline {

std::string host_architecture() {
  utsname u{};
  ::uname(&u);
  const std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "i686" || m == "i386") return "386";
  if (m == "armv7l" || m == "armv6l") return "arm";
  return m;  // ppc64le, s390x, riscv64 are already GOARCH names
}

result<descriptor> select_from_index(const image_index& index, const image_reference& ref) {
  const auto& ms = index.manifests;
  if (ref.manifest_digest) {
    for (const auto& d : ms)
      if (d.digest == *ref.manifest_digest) return d;
    return fail(errc::not_found, "no manifest " + ref.manifest_digest->str() + " in index.json");
  }
  if (!ref.tag.empty()) {
    const descriptor* found = nullptr;
    for (const auto& d : ms) {
      if (d.ref_name() != ref.tag) continue;
      if (found && !(found->digest == d.digest))
        return fail(errc::malformed, "tag " + quote(ref.tag) + " names several manifests in index.json");
      found = &d;
    }
    if (!found) {
      std::string tags;
      for (const auto& d : ms)
        if (!d.ref_name().empty()) tags += (tags.empty() ? "" : ", ") + quote(d.ref_name());
      return fail(errc::not_found, "no tag " + quote(ref.tag) + " in index.json" +
                                       (tags.empty() ? " (it has no tags)" : "; tags: " + tags));
    }
    return *found;
  }
  if (ms.size() == 1) return ms.front();
  if (ms.empty()) return fail(errc::not_found, "index.json lists no manifests");
  std::string tags;
  for (const auto& d : ms) {
    if (!tags.empty()) tags += ", ";
    tags += d.ref_name().empty() ? d.digest.str() : quote(d.ref_name());
  }
  return fail(errc::invalid_argument,
              "index.json lists " + std::to_string(ms.size()) + " manifests; name one: " + tags);
}

}  // namespace pipeline
namespace {


// The variant an architecture has when none is written, as containerd's
// platform matching assumes: arm64 is v8, arm is v7.
std::string normal_variant(const std::string& arch, const std::string& variant) {
  if (!variant.empty()) return variant;
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return variant;
}

// How well an image of os/arch/variant suits `want`: 0 exactly, k > 0 an
// older variant a host of the wanted one runs (containerd's matcher: an
// arm/v7 host runs v6 at rank 1, v5 at rank 2), nullopt not at all.
std::optional<int> platform_rank(const std::string& os_, const std::string& arch_, const std::string& variant_,
                                 const platform_selector& want) {
  const auto os = want.os.empty() ? std::string("linux") : want.os;
  const auto arch = want.architecture.empty() ? pipeline::host_architecture() : want.architecture;
  if (os_ != os || arch_ != arch) return std::nullopt;
  if (want.variant.empty()) return 0;
  const auto have = normal_variant(arch_, variant_);
  const auto wanted = normal_variant(arch, want.variant);
  if (have == wanted) return 0;
  // arm variants v5 < v6 < v7 < v8: a newer core runs older code.
  auto arm_level = [](const std::string& v) { return v.size() == 2 && v[0] == 'v' && v[1] >= '5' && v[1] <= '8' ? v[1] - '0' : 0; };
  if (arch == "arm" && arm_level(have) && arm_level(wanted) && arm_level(have) < arm_level(wanted))
    return arm_level(wanted) - arm_level(have);
  return std::nullopt;
}

bool platform_matches(const std::string& os_, const std::string& arch_, const std::string& variant_,
                      const platform_selector& want) {
  return platform_rank(os_, arch_, variant_, want).has_value();
}

bool platform_given(const platform_selector& p) {
  return !p.os.empty() || !p.architecture.empty() || !p.variant.empty();
}

// "os/arch[/variant]", the form --platform takes and messages show.
std::string platform_string(const std::string& os, const std::string& arch, const std::string& variant) {
  return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
}

std::string platform_text(const platform_selector& p) {
  return platform_string(p.os.empty() ? "linux" : p.os,
                         p.architecture.empty() ? pipeline::host_architecture() : p.architecture, p.variant);
}


// A document's own mediaType, when set, must be the one its descriptor claims,
// so one blob never reads as two kinds of document (image-spec
// GHSA-77vh-xpmg-72qh, buglog B45).

}  // namespace

result<platform_selector> parse_platform(std::string_view text) {
  platform_selector p;
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= text.size()) {
    auto j = text.find('/', i);
    if (j == std::string_view::npos) j = text.size();
    parts.emplace_back(text.substr(i, j - i));
    i = j + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return fail(errc::invalid_argument, "platform " + quote(text) + ": want OS/ARCH[/VARIANT]");
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

namespace {

// Turns a docker-archive entry into a resolved image; a problem of the entry
// is an error here (validate reports them all instead).
result<resolved_image> resolve_docker(const io::image_layout& store, const image_reference& ref,
                                      const platform_selector& platform) {
  OCIPIPE_ASSIGN_OR_RETURN(auto text, store.read_file("manifest.json", pipeline::max_image_document_bytes));
  auto list = parse_docker_manifest(text);
  if (!list.problems.empty())
    return fail(errc::malformed, "manifest.json: " + list.problems.front().json_path + ": " +
                                     list.problems.front().message);
  OCIPIPE_ASSIGN_OR_RETURN(auto n, pipeline::select_docker_image(list.images, ref));
  OCIPIPE_ASSIGN_OR_RETURN(auto view, pipeline::load_docker_image(store, list.images[n], json_index_path("", n)));
  if (!view.problems.empty())
    return fail(errc::malformed, "manifest.json: " + view.problems.front().json_path + ": " +
                                     view.problems.front().message);
  auto cfg = parse_image_config(view.config_bytes);
  if (!cfg) return tl::unexpected(std::move(cfg).error().context("image config " + view.manifest.config.digest.str()));
  if (platform_given(platform) && !platform_matches(cfg->os, cfg->architecture, cfg->variant, platform))
    return fail(errc::not_found, "image is " + quote(platform_string(cfg->os, cfg->architecture, cfg->variant)) +
                                     ", not platform " + quote(platform_text(platform)));
  resolved_image out;
  out.reference = ref;
  out.manifest_descriptor = view.manifest_descriptor;
  out.config_descriptor = view.manifest.config;
  out.manifest = std::move(view.manifest);
  out.config = std::move(*cfg);
  out.config_bytes = std::move(view.config_bytes);
  return out;
}

// The best manifest for a platform found so far in a tree of image indexes.
struct platform_search {
  std::optional<descriptor> pick;
  int rank = 0;
  std::string have;  // the platforms seen, for the message when none matches
};

// Manifests without a platform are taken only when no entry names a match;
// the config's own platform is checked after (resolve_in).
constexpr int unnamed_platform_rank = 1 << 20;

// Walks image index `d` and the indexes it holds (B50: an index's entries may
// be indexes themselves, with or without a platform of their own), depth
// first; the best-ranked manifest wins, among equals the first.
result<void> search_index(const io::image_layout& layout, const descriptor& d, const platform_selector& platform,
                          int depth, platform_search& s) {
  if (depth == media_type::max_index_depth)
    return fail(errc::malformed, "image indexes nested deeper than " + std::to_string(media_type::max_index_depth));
  auto bytes = pipeline::read_verified_blob(layout, d);
  if (!bytes) return tl::unexpected(std::move(bytes).error().context("image index " + d.digest.str()));
  auto index = parse_image_index(*bytes);
  if (!index) return tl::unexpected(std::move(index).error().context("image index " + d.digest.str()));
  OCIPIPE_TRY(check_media_type_matches(index->media_type, d));
  for (const auto& m : index->manifests) {
    std::optional<int> rank = unnamed_platform_rank;
    if (m.platform) {
      const auto named = platform_string(m.platform->os, m.platform->architecture, m.platform->variant);
      if (s.have.find(quote(named)) == std::string::npos) s.have += (s.have.empty() ? "" : ", ") + quote(named);
      rank = platform_rank(m.platform->os, m.platform->architecture, m.platform->variant, platform);
    }
    if (!rank) continue;
    if (media_type::is_image_index(m.media_type)) {
      OCIPIPE_TRY(search_index(layout, m, platform, depth + 1, s));
      continue;
    }
    if (!s.pick || *rank < s.rank) {
      s.pick = m;
      s.rank = *rank;
    }
  }
  return {};
}

result<resolved_image> resolve_in(const io::image_layout& layout, const image_reference& ref,
                                  const platform_selector& platform) {
  auto where = [](error e) { return tl::unexpected(std::move(e)); };
  auto chosen = pipeline::select_root(layout, ref);
  if (!chosen) return where(std::move(chosen).error());
  const auto* layout_ptr = &layout;

  descriptor d = *chosen;
  if (media_type::is_image_index(d.media_type)) {
    platform_search found;
    if (auto ok = search_index(*layout_ptr, d, platform, 0, found); !ok) return where(std::move(ok).error());
    if (!found.pick)
      return where(error(errc::not_found, "image index " + d.digest.str() + " has no manifest for platform " +
                                              platform_text(platform) +
                                              (found.have.empty() ? "" : "; it has " + found.have)));
    d = *found.pick;
  }
  if (!media_type::is_image_manifest(d.media_type))
    return where(error(errc::unsupported, "descriptor " + d.digest.str() + ": media type " +
                                              quote(d.media_type) + " is not an image manifest"));

  resolved_image out;
  out.reference = ref;
  out.manifest_descriptor = d;
  auto mbytes = pipeline::read_verified_blob(*layout_ptr, d);
  if (!mbytes) return where(std::move(mbytes).error().context("manifest " + d.digest.str()));
  auto m = parse_manifest(*mbytes);
  if (!m) return where(std::move(m).error().context("manifest " + d.digest.str()));
  if (auto ok = check_media_type_matches(m->media_type, d); !ok) return where(std::move(ok).error());
  out.manifest = std::move(*m);
  out.config_descriptor = out.manifest.config;
  auto cbytes = pipeline::read_verified_blob(*layout_ptr, out.config_descriptor);
  if (!cbytes)
    return where(std::move(cbytes).error().context("image config " + out.config_descriptor.digest.str()));
  auto cfg = parse_image_config(*cbytes);
  if (!cfg)
    return where(std::move(cfg).error().context("image config " + out.config_descriptor.digest.str()));
  // A platform asked for explicitly must be the image's, index or not.
  if (platform_given(platform) &&
      !platform_matches(cfg->os, cfg->architecture, cfg->variant, platform))
    return where(error(errc::not_found, "image is " +
                                            quote(platform_string(cfg->os, cfg->architecture, cfg->variant)) +
                                            ", not platform " + quote(platform_text(platform))));
  out.config = std::move(*cfg);
  out.config_bytes = std::move(*cbytes);
  return out;
}

}  // namespace

namespace pipeline {

result<io::image_layout> open_store(const image_reference& ref, remote_session* remote) {
  switch (ref.kind) {
    case transport::oci: return io::image_layout::open(ref.path);
    case transport::oci_archive:
    case transport::docker_archive: return io::image_layout::open_archive(ref.path);
    case transport::docker:
    case transport::oci_url: break;
  }
  std::optional<remote_session> own;
  if (!remote) remote = &own.emplace(remote_options{});
  OCIPIPE_ASSIGN_OR_RETURN(auto store, remote->open_store(ref));
  return io::image_layout::open_remote(std::move(store));
}

result<descriptor> select_root(const io::image_layout& store, const image_reference& ref) {
  if (ref.kind == transport::docker && store.remote()) {
    // A registry has no index.json: the tag or digest is asked of it.
    const std::string name = ref.manifest_digest ? ref.manifest_digest->str() : ref.tag.empty() ? "latest" : ref.tag;
    return store.remote()->resolve_root(name);
  }
  OCIPIPE_ASSIGN_OR_RETURN(auto index_bytes, store.read_file("index.json", pipeline::max_layout_index_bytes));
  auto index = parse_image_index(index_bytes);
  if (!index) return tl::unexpected(std::move(index).error().context("index.json"));
  return select_from_index(*index, ref);
}

result<opened_image> open_image(const image_reference& ref, const platform_selector& platform,
                                remote_session* remote) {
  // Callers name the reference ("unpack oci:…"); errors here say only what and where inside.
  OCIPIPE_ASSIGN_OR_RETURN(auto store, open_store(ref, remote));
  auto image = ref.kind == transport::docker_archive ? resolve_docker(store, ref, platform)
                                                     : resolve_in(store, ref, platform);
  if (!image) return tl::unexpected(std::move(image).error());
  return opened_image{std::move(*image), std::move(store)};
}

}  // namespace pipeline

result<resolved_image> resolve_image(const image_reference& ref, const platform_selector& platform) {
  return resolve_image(ref, platform, remote_options{});
}

result<resolved_image> resolve_image(const image_reference& ref, const platform_selector& platform,
                                     const remote_options& remote) {
  pipeline::remote_session session(remote);
  OCIPIPE_ASSIGN_OR_RETURN(auto opened, pipeline::open_image(ref, platform, &session));
  return std::move(opened.image);
}

}  // namespace ocipipe
