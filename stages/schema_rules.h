#pragma once
// The image-spec rules for one JSON document, every finding reported: what the
// spec's JSON schemas check (schema/*.json of opencontainers/image-spec v1.1:
// image-manifest-schema.json, image-index-schema.json, config-schema.json,
// content-descriptor.json, defs.json, defs-descriptor.json,
// image-layout-schema.json), what its Go reference validator adds
// (schema/validator.go: Go's typed JSON decoding, go-digest's Validate, base64
// `data`, Env in NAME=value form, the media type checks on manifests and
// indexes) and a few MUSTs of the prose neither checks (descriptor.md: size not
// negative, embedded data matching size and digest; manifest.md and
// image-index.md: mediaType matching the document, GHSA-77vh-xpmg-72qh).
// Stricter than the reference in a few places, each a spec MUST or a reader
// ambiguity: digests are validated wherever they appear (the reference runs
// go-digest only on a descriptor document's own digest), config diff_ids must
// be digests, urls must be RFC 3986 throughout, duplicate object keys are
// errors, config os and architecture must not be empty, ExposedPorts keys must
// be ports and Volumes keys absolute paths, and a descriptor of the empty
// media type must describe `{}` (manifest.md "Guidance for an Empty
// Descriptor").
//
// Severity follows what a reader may do with the document. What the spec lets
// an image carry without a reader knowing it (unknown config, layer or manifest
// media types, unregistered digest algorithms, unusual os/architecture pairs)
// is a warning, as is a history that disagrees with rootfs.diff_ids on the
// number of layers (config.md's own example does, and the reference accepts
// it); a document with only warnings is valid. Everything else is an error.
// The verdicts agree with the reference validator on the conformance corpus
// (shared/conformance/image-spec), where they can be checked.
//
// Rule ids are stable: `<scope>.<field>.<check>`, scope being the document
// kind or the shared structure the rule belongs to (descriptor, digest,
// annotations, platform). Checks: `required` (missing), `type` (wrong JSON
// type; on a scope alone, not an object), `format` (a grammar), `value` (an
// enum or range) or a named rule. Ids in use:
//   json.syntax  json.duplicate_key  document.mediaType (no rules for it)
//   descriptor.type  descriptor.{mediaType,size,digest}.{required,type}
//   descriptor.{mediaType,artifactType}.format  descriptor.artifactType.type
//   descriptor.empty.value
//   descriptor.size.value  descriptor.urls.{type,format}
//   descriptor.data.{type,base64,size,digest}
//   digest.format  digest.encoding  digest.algorithm (warning)
//   annotations.type  annotations.value.type
//   platform.type  platform.{architecture,os}.{required,type}
//   platform.{osVersion,osFeatures,variant}.type  platform.combination (warning)
//   manifest.type  manifest.schemaVersion  manifest.mediaType{,.type,.format}
//   manifest.artifactType.{type,format}  manifest.artifactType.required (warning)
//   manifest.{config,layers}.required  manifest.layers.{type,empty}
//   manifest.manifests.forbidden  manifest.{config,layers}.mediaType.unknown (warning)
//   index.type  index.schemaVersion  index.mediaType{,.type,.format}
//   index.artifactType.{type,format}  index.manifests.{required,type}
//   index.{config,layers}.forbidden  index.manifests.mediaType.unknown (warning)
//   config.type  config.{architecture,os}.{required,type,value}
//   config.created.{type,format}
//   config.{author,osVersion,osFeatures,variant}.type  config.config.type
//   config.{user,exposedPorts,env,entrypoint,cmd,volumes,workingDir,labels,
//     stopSignal,argsEscaped}.type  config.env.form
//   config.{exposedPorts,volumes}.format
//   config.rootfs.{required,type}  config.rootfs.type.{required,type,value}
//   config.rootfs.diff_ids.{required,type} (entries: digest.*)
//   config.history.type  config.history.created.{type,format}
//   config.history.{author,createdBy,comment,emptyLayer}.type
//   config.history.layers.count (warning)
//   layout.type  layout.imageLayoutVersion.{required,type,value}
// A manifest's or index's `subject` is checked as a descriptor (descriptor.*,
// digest.*, annotations.*, platform.* at `subject…`). Every id is in
// rule_catalog() (stages/rule_catalog.h) with its severity and spec section;
// manifest.layers.empty is an error here (the schema's minItems, and the
// reference's verdict) and a warning there, since `validate` keeps it one
// without `--strict`.
// json_path locates the value: `layers[2].digest`, `config.Env[0]`,
// `annotations["com.example.key"]`, "" for the document root.

#include <string>
#include <string_view>
#include <vector>

#include "stages/rule_catalog.h"  // severity, severity_name; every id below has an entry

namespace ocipipe {

/// One finding about a document. Plain value; cheap to copy.
struct diagnostic {
  std::string rule;  ///< stable rule id, see the list above
  severity level = severity::error;
  std::string json_path;  ///< where: `layers[2].digest`; "" for the root
  std::string message;    ///< lowercase, what is wrong and what the spec wants
};

/// Checks `json` against the image-spec rules of `media_type`, one of
/// application/vnd.oci.image.manifest.v1+json, …image.index.v1+json,
/// …image.config.v1+json, …descriptor.v1+json and
/// …layout.header.v1+json (the `oci-layout` file). `media_type` names the
/// rules to apply, as the reference validator's Validator does; it is not read
/// from the document. Returns every finding, grouped by structure in the order
/// the checks run; empty means valid without remarks. Input that is not JSON yields exactly one
/// `json.syntax` error; an unsupported `media_type` exactly one
/// `document.mediaType` error. Never fails otherwise, throws nothing, needs no
/// padding, keeps no reference to `json`. Pure and thread-safe.
[[nodiscard]] std::vector<diagnostic> check_document(std::string_view media_type,
                                                     std::string_view json);

/// True when any finding is an error, i.e. the document is invalid.
[[nodiscard]] bool has_errors(const std::vector<diagnostic>& findings) noexcept;

}  // namespace ocipipe
