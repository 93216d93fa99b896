#pragma once
// Operations on an image layout's index.json (image-layout.md "index.json
// file") and on the graph of documents below it, as values: tags
// (org.opencontainers.image.ref.name annotations) set and removed, and the
// children of a manifest or index, which gc and rm follow for reachability.
// Pure and thread-safe; reading and writing the files is pipeline/'s (through
// io/layout_writer.h, under the layout lock).

#include <string>
#include <string_view>
#include <vector>

#include "stages/oci/descriptor.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// image-layout.md / annotations.md: the annotation holding a tag in index.json.
inline constexpr std::string_view ref_name_annotation = "org.opencontainers.image.ref.name";

/// Whether `tag` is a ref name image-layout.md allows: components of
/// [A-Za-z0-9]+ joined by one of [-._:@+] or "--", or by "/"
/// (`ref ::= component ("/" component)*`). The separators are checked one
/// at a time, as stages/reference.h does for tags in references.
[[nodiscard]] bool valid_ref_name(std::string_view tag);

/// What set_tag() changed, for the report.
struct tag_change {
  bool changed = false;                 ///< false: `tag` was on that manifest already
  std::vector<descriptor> moved_from;   ///< descriptors that had `tag` before (tag removed)
  std::vector<descriptor> dropped;      ///< of those, the ones removed from the index entirely
};

/// Puts `tag` on descriptor `target` in `index` (index.json), so that exactly
/// one descriptor carries it afterwards. Like skopeo's oci transport
/// (containers/image oci/layout addManifest): the tag is taken off every
/// other descriptor that had it; an untagged descriptor of the same digest is
/// reused instead of adding a duplicate. A descriptor that loses the tag is
/// dropped from the index when nothing else keeps it there, that is when it
/// has no annotations left (it was only there to carry the tag, as umoci and
/// `docker tag` treat it, so gc can reclaim the old image); one that still
/// carries other annotations stays, untagged, as skopeo leaves it.
/// `target`'s own ref name annotation is replaced by `tag`; its other fields
/// (platform, annotations) are kept. Errors: `invalid_argument` (tag not a
/// valid ref name).
[[nodiscard]] result<tag_change> set_tag(image_index& index, descriptor target, std::string_view tag);

/// Removes every descriptor of `index` whose ref name is `tag` and returns
/// them (umoci rm, skopeo delete: the whole entry goes, not just the
/// annotation). Errors: `not_found` when no descriptor has that tag.
[[nodiscard]] result<std::vector<descriptor>> remove_tag(image_index& index, std::string_view tag);

/// Removes every descriptor of `index` whose digest is `d` and returns them.
/// Errors: `not_found` when none has that digest.
[[nodiscard]] result<std::vector<descriptor>> remove_digest(image_index& index, const digest& d);

/// The descriptors a document points to, for reachability (gc, rm --blobs):
/// an image manifest's config, layers and subject; an image index's
/// manifests and subject. `d` is the descriptor that led to the document
/// (its media type says what to parse); a media type that is neither
/// manifest nor index (an artifact, a Docker or unknown type) is tried as
/// both, since reachability must err towards keeping. Returns `malformed`
/// when the document parses as neither: the caller then treats the blob as
/// a leaf. Layers and configs are leaves: call this only for descriptors
/// for which is_document() holds.
[[nodiscard]] result<std::vector<descriptor>> document_children(const descriptor& d, std::string_view bytes);

/// Whether a blob reached through `d` may be a document with children:
/// manifest and index media types (OCI and Docker), and unknown media types
/// that are not known leaves (layers, image configs, the empty descriptor).
[[nodiscard]] bool is_document(const descriptor& d);

/// The subject of a document (image-spec manifest.md "subject"), if it has
/// one: a referrer is kept alive by its subject (gc keeps a manifest whose
/// subject is reachable). Errors: as document_children.
[[nodiscard]] result<std::optional<descriptor>> document_subject(const descriptor& d, std::string_view bytes);

}  // namespace ocipipe
