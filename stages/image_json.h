#pragma once
// Structural parsers for the image-spec JSON documents: image manifest
// (manifest.md), image index (image-index.md), image config (config.md) and
// descriptor (descriptor.md), into the value types of stages/oci/descriptor.h.
//
// These are the parsers unpack, create and copy act on. They are lenient about
// what a reader can ignore (unknown fields, unknown media types, unregistered
// digest algorithms) and strict about what it must rely on: every digest
// parses and, for a registered algorithm, is well-formed (DESIGN.md §6); every
// size is a non-negative integer; every field read has its JSON type; a
// document never reads as both a manifest and an index (image-spec
// GHSA-77vh-xpmg-72qh). The full spec rules, with every finding reported and
// warnings kept apart from errors, live in stages/schema_rules.h.
//
// All functions are pure and thread-safe: each call parses its own copy of the
// input with its own simdjson parser, so the input needs no padding and is not
// retained. Errors are errc::malformed only, with the JSON path of the offending
// value first: `layers[2].digest: digest "sha256:…": sha256 needs lowercase hex`.
// Not-JSON input reads `json: <simdjson's reason>`.

#include <cstddef>
#include <string>
#include <string_view>

#include "stages/oci/descriptor.h"
#include "stages/oci/error.h"

namespace ocipipe {

/// Parses an image manifest (manifest.md). Requires `schemaVersion` 2, a `config`
/// descriptor and a `layers` array (which may be empty: image-spec#1013 images
/// exist in the wild; schema_rules reports it). `mediaType`, when present, must
/// name an image manifest (OCI or Docker v2.2); the caller still compares it
/// with the descriptor that led here. A document carrying `manifests` is
/// refused, so one blob never reads as both manifest and index.
/// Errors: errc::malformed.
[[nodiscard]] result<manifest> parse_manifest(std::string_view json);

/// Parses an image index (image-index.md) or an image layout's index.json.
/// Requires `schemaVersion` 2 and a `manifests` array (possibly empty). Entries
/// of unknown media type are kept: image-index.md says readers MUST NOT error on
/// them, the caller skips them. `mediaType`, when present, must name an index
/// (OCI or Docker manifest list); `config` or `layers` are refused.
/// Errors: errc::malformed.
[[nodiscard]] result<image_index> parse_image_index(std::string_view json);

/// Parses an image config (config.md). Requires `rootfs` with `type` "layers"
/// and `diff_ids` (each a parseable digest), since unpack verifies layers
/// against them. Everything else is optional but typed; JSON null reads as
/// absent (as Docker writes `"Cmd": null`). `Env` entries are kept verbatim: the
/// NAME=value rule is schema_rules' to report. Errors: errc::malformed.
[[nodiscard]] result<image_config> parse_image_config(std::string_view json);

/// Parses one descriptor document (descriptor.md, media type
/// application/vnd.oci.descriptor.v1+json). Requires `mediaType` (a string),
/// `digest` (digest::parse) and `size` (an integer >= 0, no fraction or
/// exponent). `data` is kept as base64 text, unchecked. `platform`, when
/// present, is an object of strings (image-index.md). Errors: errc::malformed.
[[nodiscard]] result<descriptor> parse_descriptor(std::string_view json);

/// JSON path of member `key` under `parent`, in the form diagnostics and errors
/// print: `layers[2].digest`, `config.Env`; keys that are not plain identifiers
/// are bracketed and quoted: `annotations["org.opencontainers.image.ref.name"]`.
/// `parent` "" is the document root.
/// image-spec GHSA-77vh-xpmg-72qh (manifest.md, image-index.md `mediaType`):
/// a document's own mediaType, when set, must be the one its descriptor
/// claims, so one blob cannot be read both as a manifest and as an index.
/// `own` is the parsed document's mediaType ("" when absent). Errors:
/// `malformed` naming both media types.
[[nodiscard]] result<void> check_media_type_matches(std::string_view own, const descriptor& d);

[[nodiscard]] std::string json_member_path(std::string_view parent, std::string_view key);

/// JSON path of array element `index` under `parent`: `layers[2]`.
[[nodiscard]] std::string json_index_path(std::string_view parent, std::size_t index);

}  // namespace ocipipe
