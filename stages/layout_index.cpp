#include "stages/layout_index.h"

#include <algorithm>

#include "stages/image_json.h"
#include "stages/oci/media_type.h"

namespace ocipipe {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_separator(char c) { return c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '+'; }

// component ::= alphanum (separator alphanum)*, separator ::= [-._:@+] | "--"
bool valid_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (is_alnum(c[i])) continue;
    if (!is_separator(c[i])) return false;
    // One separator between alphanums; "--" is the only two-character one.
    if (c[i] == '-' && c[i + 1] == '-') ++i;
    if (!is_alnum(c[i + 1])) return false;
  }
  return true;
}

std::string tag_of(const descriptor& d) { return d.ref_name(); }

}  // namespace

bool valid_ref_name(std::string_view tag) {
  if (tag.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    const auto slash = tag.find('/', start);
    if (!valid_component(tag.substr(start, slash == std::string_view::npos ? slash : slash - start)))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

result<tag_change> set_tag(image_index& index, descriptor target, std::string_view tag) {
  if (!valid_ref_name(tag))
    return fail(errc::invalid_argument, "tag " + quote(tag) + ": not a valid ref name (image-layout.md)");
  tag_change out;
  for (const auto& d : index.manifests)
    if (d.ref_name() == tag && d.digest == target.digest) return out;  // already there

  target.annotations[std::string(ref_name_annotation)] = std::string(tag);
  std::vector<descriptor> kept;
  kept.reserve(index.manifests.size() + 1);
  for (auto& d : index.manifests) {
    if (d.ref_name() != tag) {
      kept.push_back(std::move(d));
      continue;
    }
    out.moved_from.push_back(d);
    d.annotations.erase(std::string(ref_name_annotation));
    if (d.annotations.empty()) out.dropped.push_back(std::move(d));
    else kept.push_back(std::move(d));
  }
  // An untagged entry of the same manifest takes the tag instead of a
  // duplicate entry being added (skopeo: "replace it completely").
  auto same = std::find_if(kept.begin(), kept.end(), [&](const descriptor& d) {
    return d.digest == target.digest && tag_of(d).empty();
  });
  if (same != kept.end()) *same = std::move(target);
  else kept.push_back(std::move(target));
  index.manifests = std::move(kept);
  out.changed = true;
  return out;
}

result<std::vector<descriptor>> remove_tag(image_index& index, std::string_view tag) {
  std::vector<descriptor> removed;
  std::erase_if(index.manifests, [&](descriptor& d) {
    if (d.ref_name() != tag) return false;
    removed.push_back(d);
    return true;
  });
  if (removed.empty()) return fail(errc::not_found, "tag " + quote(tag) + ": not in index.json");
  return removed;
}

result<std::vector<descriptor>> remove_digest(image_index& index, const digest& dg) {
  std::vector<descriptor> removed;
  std::erase_if(index.manifests, [&](descriptor& d) {
    if (d.digest != dg) return false;
    removed.push_back(d);
    return true;
  });
  if (removed.empty()) return fail(errc::not_found, "manifest " + dg.str() + ": not in index.json");
  return removed;
}

bool is_document(const descriptor& d) {
  const std::string_view mt = d.media_type;
  if (media_type::is_image_manifest(mt) || media_type::is_image_index(mt)) return true;
  if (media_type::compression_of(mt) != media_type::layer_compression::unknown) return false;
  if (mt == media_type::image_config || mt == media_type::docker_config || mt == media_type::empty_json)
    return false;
  // Anything else may be a manifest of a type we do not know (a Docker
  // schema 1 manifest, a future type): parse it to find out.
  return true;
}

namespace {

struct parsed_document {
  std::vector<descriptor> children;
  std::optional<descriptor> subject;
};

result<parsed_document> parse_document(const descriptor& d, std::string_view bytes) {
  const std::string_view mt = d.media_type;
  const bool manifest_type = media_type::is_image_manifest(mt);
  const bool index_type = media_type::is_image_index(mt);
  auto from_manifest = [](manifest m) {
    parsed_document out;
    out.children.push_back(std::move(m.config));
    for (auto& l : m.layers) out.children.push_back(std::move(l));
    out.subject = std::move(m.subject);
    return out;
  };
  auto from_index = [](image_index i) {
    parsed_document out;
    out.children = std::move(i.manifests);
    out.subject = std::move(i.subject);
    return out;
  };
  if (manifest_type) {
    auto m = parse_manifest(bytes);
    if (!m) return tl::unexpected(std::move(m).error().context("manifest " + d.digest.str()));
    return from_manifest(std::move(*m));
  }
  if (index_type) {
    auto i = parse_image_index(bytes);
    if (!i) return tl::unexpected(std::move(i).error().context("index " + d.digest.str()));
    return from_index(std::move(*i));
  }
  if (auto m = parse_manifest(bytes)) return from_manifest(std::move(*m));
  if (auto i = parse_image_index(bytes)) return from_index(std::move(*i));
  return fail(errc::malformed, "document " + d.digest.str() + " (" + quote(mt) +
                                   "): neither an image manifest nor an image index");
}

}  // namespace

result<std::vector<descriptor>> document_children(const descriptor& d, std::string_view bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto doc, parse_document(d, bytes));
  if (doc.subject) doc.children.push_back(std::move(*doc.subject));
  return std::move(doc.children);
}

result<std::optional<descriptor>> document_subject(const descriptor& d, std::string_view bytes) {
  OCIPIPE_ASSIGN_OR_RETURN(auto doc, parse_document(d, bytes));
  return std::move(doc.subject);
}

}  // namespace ocipipe
