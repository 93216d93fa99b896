#include "tests/support/image_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "stages/digester.h"
#include "stages/oci/media_type.h"

namespace ocipipe::testing {
namespace {

using ordered_json = nlohmann::ordered_json;

// The xattr that forces libarchive to write a PAX header for an entry whose header is to be
// patched; its records are overwritten in place, so it never reaches a reader.
constexpr std::string_view patch_xattr = "user.ocipipe.patch";
const std::string patch_value(96, 'P');

[[noreturn]] void die(const std::string& what) { throw std::runtime_error("image_builder: " + what); }

void check_archive(archive* a, int rc, const std::string& what) {
  if (rc < ARCHIVE_WARN) {
    const char* msg = archive_error_string(a);
    die(what + ": " + (msg ? msg : "libarchive error"));
  }
}

la_ssize_t append_cb(archive*, void* out, const void* buf, std::size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

bool needs_patch(const tar_spec_entry& e) {
  return e.pax_size || e.ustar_size || e.pax_header_size;
}

// ---- in-place patches of libarchive's output ----

constexpr std::size_t block = 512;

std::uint64_t octal_field(const std::string& tar, std::size_t off, std::size_t len) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const char c = tar[off + i];
    if (c == ' ' && v == 0) continue;
    if (c < '0' || c > '7') break;
    v = v * 8 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

void fix_checksum(std::string& tar, std::size_t hdr) {
  std::memset(&tar[hdr + 148], ' ', 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < block; ++i) sum += static_cast<unsigned char>(tar[hdr + i]);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06o", sum);
  std::memcpy(&tar[hdr + 148], buf, 6);
  tar[hdr + 154] = '\0';
  tar[hdr + 155] = ' ';
}

void set_size_field(std::string& tar, std::size_t hdr, std::uint64_t size) {
  if (size > 077777777777ull) die("patched size does not fit the 11-digit ustar field");
  char buf[13];
  std::snprintf(buf, sizeof buf, "%011llo", static_cast<unsigned long long>(size));
  std::memcpy(&tar[hdr + 124], buf, 12);  // 11 digits and the NUL
  fix_checksum(tar, hdr);
}

// The headers of each entry in libarchive's output: its PAX 'x' header (npos when none) and
// its own header. libarchive writes exactly one entry header per archive_write_header().
struct entry_headers {
  std::size_t pax = std::string::npos;
  std::size_t own = 0;
};

std::vector<entry_headers> locate_headers(const std::string& tar) {
  std::vector<entry_headers> out;
  std::size_t pending_pax = std::string::npos;
  for (std::size_t off = 0; off + block <= tar.size();) {
    if (tar.compare(off, block, std::string(block, '\0')) == 0) break;
    const char type = tar[off + 156];
    const std::uint64_t size = octal_field(tar, off + 124, 12);
    const std::size_t next = off + block + (size + block - 1) / block * block;
    if (type == 'x') {
      pending_pax = off;
    } else if (type != 'g') {
      out.push_back({pending_pax, off});
      pending_pax = std::string::npos;
    }
    off = next;
  }
  return out;
}

// A PAX record "<len> key=value\n" of exactly `total` bytes, the value padded with `pad`.
std::string pax_record(const std::string& key, const std::string& value, std::size_t total,
                       char pad) {
  for (std::size_t digits = 1; digits < 20; ++digits) {
    const std::size_t fixed = digits + 1 + key.size() + 1 + value.size() + 1;
    if (fixed > total) break;
    const std::string len = std::to_string(total);
    if (len.size() != digits) continue;
    return len + " " + key + "=" + value + std::string(total - fixed, pad) + "\n";
  }
  die("no PAX record of " + std::to_string(total) + " bytes for " + key);
}

std::string natural_record(const std::string& key, const std::string& value) {
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;
  std::size_t total = body + 1;
  while (std::to_string(total).size() + body != total) ++total;
  return std::to_string(total) + " " + key + "=" + value + "\n";
}

void patch_entry(std::string& tar, const entry_headers& h, const tar_spec_entry& e) {
  if (h.pax == std::string::npos) die("entry " + e.name + " has no PAX header to patch");
  // Overwrite the placeholder records with the records asked for, then harmless comments, so
  // the PAX body keeps its length and the 'x' header stays valid.
  const std::size_t body = h.pax + block;
  const std::size_t body_len = octal_field(tar, h.pax + 124, 12);
  bool size_written = false;
  for (std::size_t pos = body; pos < body + body_len;) {
    const std::size_t sp = tar.find(' ', pos);
    const std::size_t len = std::stoul(tar.substr(pos, sp - pos));
    const std::string rec = tar.substr(pos, len);
    if (rec.find(std::string(patch_xattr)) != std::string::npos) {
      std::string repl;
      if (e.pax_size && !size_written) {
        repl = natural_record("size", std::to_string(*e.pax_size));
        size_written = true;
      }
      repl += pax_record("comment", "", len - repl.size(), 'c');
      tar.replace(pos, len, repl);
    }
    pos += len;
  }
  if (e.pax_size && !size_written) die("no placeholder record found for " + e.name);
  if (e.ustar_size) set_size_field(tar, h.own, *e.ustar_size);
  if (e.pax_header_size) set_size_field(tar, h.pax, *e.pax_header_size);
}

// ---- files ----

void make_dirs(const std::string& path) {
  std::string cur;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    i = j + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir " + cur + ": " + std::strerror(errno));
  }
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) die("write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

ordered_json descriptor_json(std::string_view media_type, const digest& d, std::int64_t size) {
  return ordered_json{{"mediaType", media_type}, {"digest", d.str()}, {"size", size}};
}

void write_index(built_image& img) {
  ordered_json entry = descriptor_json(media_type::image_manifest, img.manifest_digest, img.manifest_size);
  entry["annotations"] = {{"org.opencontainers.image.ref.name", img.tag}};
  const ordered_json index{{"schemaVersion", 2},
                           {"mediaType", media_type::image_index},
                           {"manifests", ordered_json::array({entry})}};
  write_file(img.dir + "/index.json", index.dump());
}

void store_manifest(built_image& img) {
  const std::string bytes = img.manifest.dump();
  img.manifest_digest = write_blob(img, bytes);
  img.manifest_size = static_cast<std::int64_t>(bytes.size());
  write_index(img);
}

void store_config(built_image& img) {
  const std::string bytes = img.config.dump();
  img.config_digest = write_blob(img, bytes);
  img.manifest["config"] = descriptor_json(media_type::image_config, img.config_digest,
                                           static_cast<std::int64_t>(bytes.size()));
  store_manifest(img);
}

}  // namespace

// ---- entries ----

tar_spec_entry file(std::string name, std::string content, std::uint32_t mode) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}

tar_spec_entry dir(std::string name, std::uint32_t mode) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.type = entry_type::directory;
  e.mode = mode;
  return e;
}

tar_spec_entry symlink(std::string name, std::string target) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.type = entry_type::symlink;
  e.link_target = std::move(target);
  e.mode = 0777;
  return e;
}

tar_spec_entry hardlink(std::string name, std::string target) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.type = entry_type::hardlink;
  e.link_target = std::move(target);
  return e;
}

tar_spec_entry char_device(std::string name, std::uint32_t major, std::uint32_t minor,
                           std::uint32_t mode) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.type = entry_type::char_device;
  e.dev_major = major;
  e.dev_minor = minor;
  e.mode = mode;
  return e;
}

tar_spec_entry block_device(std::string name, std::uint32_t major, std::uint32_t minor,
                            std::uint32_t mode) {
  auto e = char_device(std::move(name), major, minor, mode);
  e.type = entry_type::block_device;
  return e;
}

tar_spec_entry fifo(std::string name, std::uint32_t mode) {
  tar_spec_entry e;
  e.name = std::move(name);
  e.type = entry_type::fifo;
  e.mode = mode;
  return e;
}

// ---- layers ----

layer_spec layer(std::vector<tar_spec_entry> entries, layer_compression compression) {
  layer_spec l;
  l.entries = std::move(entries);
  l.compression = compression;
  return l;
}

layer_spec raw_layer(std::string tar, layer_compression compression) {
  layer_spec l;
  l.raw_tar = std::move(tar);
  l.compression = compression;
  return l;
}

// ---- streams ----

std::string make_tar(const std::vector<tar_spec_entry>& entries, xattr_records xattrs) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive* ar = a.get();
  check_archive(ar, archive_write_set_format_pax_restricted(ar), "pax_restricted");
  const char* which = xattrs == xattr_records::all ? "ALL"
                      : xattrs == xattr_records::schily ? "SCHILY" : "LIBARCHIVE";
  check_archive(ar, archive_write_set_format_option(ar, "pax", "xattrheader", which), "xattrheader");
  check_archive(ar, archive_write_add_filter_none(ar), "filter none");
  std::string out;
  check_archive(ar, archive_write_open(ar, &out, nullptr, append_cb, nullptr), "open");

  for (const auto& s : entries) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry* ae = e.get();
    archive_entry_copy_pathname(ae, s.name.c_str());
    archive_entry_set_perm(ae, s.mode & 07777);
    archive_entry_set_uid(ae, s.uid);
    archive_entry_set_gid(ae, s.gid);
    archive_entry_set_mtime(ae, s.mtime, 0);
    switch (s.type) {
      case entry_type::regular:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, static_cast<la_int64_t>(s.content.size()));
        break;
      case entry_type::directory:
        archive_entry_set_filetype(ae, AE_IFDIR);
        break;
      case entry_type::symlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_copy_symlink(ae, s.link_target.c_str());
        break;
      case entry_type::hardlink:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_copy_hardlink(ae, s.link_target.c_str());
        archive_entry_set_size(ae, 0);
        break;
      case entry_type::char_device:
      case entry_type::block_device:
        archive_entry_set_filetype(ae, s.type == entry_type::char_device ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdevmajor(ae, s.dev_major);
        archive_entry_set_rdevminor(ae, s.dev_minor);
        break;
      case entry_type::fifo:
        archive_entry_set_filetype(ae, AE_IFIFO);
        break;
    }
    for (const auto& [name, value] : s.xattrs)
      archive_entry_xattr_add_entry(ae, name.c_str(), value.data(), value.size());
    if (needs_patch(s))
      archive_entry_xattr_add_entry(ae, std::string(patch_xattr).c_str(), patch_value.data(),
                                    patch_value.size());
    for (const auto& [off, len] : s.sparse_data) archive_entry_sparse_add_entry(ae, off, len);
    check_archive(ar, archive_write_header(ar, ae), "write header of " + s.name);
    if (s.type == entry_type::regular) {
      std::size_t done = 0;
      while (done < s.content.size()) {
        const la_ssize_t n = archive_write_data(ar, s.content.data() + done, s.content.size() - done);
        if (n <= 0) check_archive(ar, ARCHIVE_FATAL, "write data of " + s.name);
        done += static_cast<std::size_t>(n);
      }
    }
  }
  check_archive(ar, archive_write_close(ar), "close");

  bool any_patch = false;
  for (const auto& s : entries) any_patch = any_patch || needs_patch(s);
  if (any_patch) {
    const auto headers = locate_headers(out);
    if (headers.size() != entries.size()) die("found " + std::to_string(headers.size()) +
                                              " entry headers for " + std::to_string(entries.size()) +
                                              " entries");
    // Locate everything first: a patched size field would mislead the walk.
    for (std::size_t i = 0; i < entries.size(); ++i)
      if (needs_patch(entries[i])) patch_entry(out, headers[i], entries[i]);
  }
  return out;
}

std::string gzip_bytes(const std::string& bytes) {
  std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> c(
      libdeflate_alloc_compressor(6), libdeflate_free_compressor);
  if (!c) die("libdeflate_alloc_compressor");
  std::string out(libdeflate_gzip_compress_bound(c.get(), bytes.size()), '\0');
  const std::size_t n = libdeflate_gzip_compress(c.get(), bytes.data(), bytes.size(), out.data(), out.size());
  if (n == 0) die("libdeflate_gzip_compress");
  out.resize(n);
  return out;
}

std::string zstd_bytes(const std::string& bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  if (ZSTD_isError(n)) die(std::string("ZSTD_compress: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string layer_media_type(layer_compression compression) {
  switch (compression) {
    case layer_compression::none: return std::string(media_type::layer_tar);
    case layer_compression::gzip: return std::string(media_type::layer_tar_gzip);
    case layer_compression::zstd: return std::string(media_type::layer_tar_zstd);
  }
  return {};
}

digest sha256_of(const std::string& bytes) {
  return digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())), digest_algorithm::sha256);
}

// ---- layouts ----

image_reference built_image::ref() const {
  image_reference r;
  r.kind = transport::oci;
  r.path = dir;
  r.tag = tag;
  return r;
}

std::string built_image::blob_path(const digest& d) const { return dir + "/" + d.blob_path(); }

digest write_blob(const built_image& img, const std::string& bytes) {
  const digest d = sha256_of(bytes);
  write_file(img.blob_path(d), bytes);
  return d;
}

built_image build_layout(const std::string& dir, const std::string& tag,
                         const std::vector<layer_spec>& layers, const config_overrides& config) {
  built_image img;
  img.dir = dir;
  img.tag = tag;
  make_dirs(dir + "/blobs/sha256");
  write_file(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");

  ordered_json layer_descs = ordered_json::array();
  ordered_json diff_ids = ordered_json::array();
  for (const auto& spec : layers) {
    built_layer l;
    l.tar = spec.raw_tar ? *spec.raw_tar : make_tar(spec.entries, spec.xattrs);
    l.diff_id = sha256_of(l.tar);
    std::string blob;
    switch (spec.compression) {
      case layer_compression::none: blob = l.tar; break;
      case layer_compression::zstd: blob = zstd_bytes(l.tar); break;
      case layer_compression::gzip:
        switch (spec.gzip) {
          case gzip_form::normal: blob = gzip_bytes(l.tar); break;
          case gzip_form::multi_member: {
            const std::size_t half = l.tar.size() / 2;
            blob = gzip_bytes(l.tar.substr(0, half)) + gzip_bytes(l.tar.substr(half));
            break;
          }
          case gzip_form::truncated: {
            const std::string whole = gzip_bytes(l.tar);
            // 10 bytes of header, 8 of trailer: half way is inside the deflate data.
            if (whole.size() < 40) die("layer too small to truncate inside its deflate data");
            blob = whole.substr(0, whole.size() / 2);
            break;
          }
        }
        break;
    }
    l.media_type = spec.media_type.empty() ? layer_media_type(spec.compression) : spec.media_type;
    l.digest = write_blob(img, blob);
    l.size = static_cast<std::int64_t>(blob.size());
    layer_descs.push_back(descriptor_json(l.media_type, l.digest, l.size));
    diff_ids.push_back(l.diff_id.str());
    img.layers.push_back(std::move(l));
  }
  if (config.diff_ids) diff_ids = *config.diff_ids;

  ordered_json cc = ordered_json::object();
  if (!config.user.empty()) cc["User"] = config.user;
  if (!config.env.empty()) cc["Env"] = config.env;
  if (config.entrypoint) cc["Entrypoint"] = *config.entrypoint;
  if (config.cmd) cc["Cmd"] = *config.cmd;
  if (!config.working_dir.empty()) cc["WorkingDir"] = config.working_dir;
  if (!config.volumes.empty()) {
    ordered_json v = ordered_json::object();
    for (const auto& k : config.volumes) v[k] = ordered_json::object();
    cc["Volumes"] = v;
  }
  img.config = ordered_json{{"created", "2023-11-14T22:13:20Z"},
                            {"architecture", config.architecture},
                            {"os", config.os},
                            {"config", cc},
                            {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  img.manifest = ordered_json{{"schemaVersion", 2},
                              {"mediaType", media_type::image_manifest},
                              {"config", nullptr},
                              {"layers", layer_descs}};
  store_config(img);
  return img;
}

// ---- breaking a layout ----

void corrupt_layer_byte(built_image& img, std::size_t n, std::optional<std::size_t> offset) {
  const std::string path = img.layer_blob_path(n);
  std::string bytes = read_file(path);
  if (bytes.empty()) die("layer blob is empty");
  const std::size_t at = offset.value_or(bytes.size() / 2);
  bytes.at(at) = static_cast<char>(~static_cast<unsigned char>(bytes[at]));
  write_file(path, bytes);
}

void set_wrong_diff_id(built_image& img, std::size_t n, std::optional<std::string> diff_id) {
  const std::string value = diff_id.value_or(sha256_of("wrong").str());
  edit_config(img, [&](ordered_json& c) { c["rootfs"]["diff_ids"].at(n) = value; });
}

void set_layer_size(built_image& img, std::size_t n, std::int64_t size) {
  edit_manifest(img, [&](ordered_json& m) { m["layers"].at(n)["size"] = size; });
}

digest point_layer_at_missing_blob(built_image& img, std::size_t n) {
  const digest missing = sha256_of("no such blob " + std::to_string(n));
  edit_manifest(img, [&](ordered_json& m) { m["layers"].at(n)["digest"] = missing.str(); });
  return missing;
}

void edit_config(built_image& img, const std::function<void(ordered_json&)>& edit) {
  edit(img.config);
  store_config(img);
}

void edit_manifest(built_image& img, const std::function<void(ordered_json&)>& edit) {
  edit(img.manifest);
  store_manifest(img);
}

digest nest_in_index(built_image& img) {
  // The attestation manifest: an unknown config type (readers must not parse it) and one
  // in-toto layer, as buildx writes them.
  const std::string statement = R"({"_type":"https://in-toto.io/Statement/v0.1"})";
  const digest statement_digest = write_blob(img, statement);
  const std::string att_config = "{}";
  const digest att_config_digest = write_blob(img, att_config);
  const ordered_json att_manifest{
      {"schemaVersion", 2},
      {"mediaType", media_type::image_manifest},
      {"config", descriptor_json("application/vnd.example.attestation.config+json",
                                 att_config_digest, static_cast<std::int64_t>(att_config.size()))},
      {"layers", ordered_json::array({descriptor_json("application/vnd.in-toto+json", statement_digest,
                                                      static_cast<std::int64_t>(statement.size()))})}};
  const std::string att_bytes = att_manifest.dump();
  const digest att_digest = write_blob(img, att_bytes);

  ordered_json image_entry = descriptor_json(media_type::image_manifest, img.manifest_digest, img.manifest_size);
  image_entry["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  ordered_json att_entry = descriptor_json(media_type::image_manifest, att_digest,
                                           static_cast<std::int64_t>(att_bytes.size()));
  att_entry["platform"] = {{"architecture", "unknown"}, {"os", "unknown"}};
  att_entry["annotations"] = {{"vnd.docker.reference.type", "attestation-manifest"},
                              {"vnd.docker.reference.digest", img.manifest_digest.str()}};
  const ordered_json nested{{"schemaVersion", 2},
                            {"mediaType", media_type::image_index},
                            {"manifests", ordered_json::array({image_entry, att_entry})}};
  const std::string nested_bytes = nested.dump();
  const digest nested_digest = write_blob(img, nested_bytes);

  const std::string thing = R"({"thing":true})";
  const digest thing_digest = write_blob(img, thing);
  ordered_json top_entry = descriptor_json(media_type::image_index, nested_digest,
                                           static_cast<std::int64_t>(nested_bytes.size()));
  top_entry["annotations"] = {{"org.opencontainers.image.ref.name", img.tag}};
  const ordered_json index{
      {"schemaVersion", 2},
      {"mediaType", media_type::image_index},
      {"manifests", ordered_json::array({top_entry, descriptor_json("application/vnd.example.thing+json",
                                                                    thing_digest,
                                                                    static_cast<std::int64_t>(thing.size()))})}};
  write_file(img.dir + "/index.json", index.dump());
  return nested_digest;
}

// ---- archives ----

namespace {

// One member of an archive to write.
struct archive_member_spec {
  std::string name;
  enum class kind { file, dir, symlink } type = kind::file;
  std::string content;  // files
  std::string target;   // symlinks
};

void write_archive_file(const std::string& path, const std::vector<archive_member_spec>& members) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive* ar = a.get();
  check_archive(ar, archive_write_set_format_pax_restricted(ar), "pax_restricted");
  check_archive(ar, archive_write_add_filter_none(ar), "filter none");
  check_archive(ar, archive_write_open_filename(ar, path.c_str()), "open " + path);
  for (const auto& m : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry* ae = e.get();
    archive_entry_copy_pathname(ae, m.name.c_str());
    archive_entry_set_uid(ae, 0);
    archive_entry_set_gid(ae, 0);
    archive_entry_set_mtime(ae, default_mtime, 0);
    switch (m.type) {
      case archive_member_spec::kind::file:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_size(ae, static_cast<la_int64_t>(m.content.size()));
        break;
      case archive_member_spec::kind::dir:
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, 0755);
        break;
      case archive_member_spec::kind::symlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_perm(ae, 0777);
        archive_entry_copy_symlink(ae, m.target.c_str());
        break;
    }
    check_archive(ar, archive_write_header(ar, ae), "write header of " + m.name);
    if (m.type == archive_member_spec::kind::file) {
      std::size_t done = 0;
      while (done < m.content.size()) {
        const la_ssize_t n = archive_write_data(ar, m.content.data() + done, m.content.size() - done);
        if (n <= 0) check_archive(ar, ARCHIVE_FATAL, "write data of " + m.name);
        done += static_cast<std::size_t>(n);
      }
    }
  }
  check_archive(ar, archive_write_close(ar), "close " + path);
}

std::string hex_of(const digest& d) { return std::string(d.encoded()); }

}  // namespace

void write_oci_archive(const built_image& img, const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<archive_member_spec> members;
  members.push_back({"oci-layout", archive_member_spec::kind::file, read_file(img.dir + "/oci-layout"), {}});
  members.push_back({"index.json", archive_member_spec::kind::file, read_file(img.dir + "/index.json"), {}});
  members.push_back({"blobs/", archive_member_spec::kind::dir, {}, {}});
  std::set<std::string> algs;
  for (const auto& a : fs::directory_iterator(img.dir + "/blobs")) algs.insert(a.path().filename().string());
  for (const auto& alg : algs) {
    members.push_back({"blobs/" + alg + "/", archive_member_spec::kind::dir, {}, {}});
    std::set<std::string> names;
    for (const auto& f : fs::directory_iterator(img.dir + "/blobs/" + alg))
      if (f.is_regular_file()) names.insert(f.path().filename().string());
    for (const auto& n : names)
      members.push_back({"blobs/" + alg + "/" + n, archive_member_spec::kind::file,
                         read_file(img.dir + "/blobs/" + alg + "/" + n), {}});
  }
  write_archive_file(path, members);
}

void write_docker_archive(const built_image& img, const std::string& path,
                          const docker_archive_options& options) {
  std::vector<archive_member_spec> members;
  std::set<std::string> written;
  auto add_file = [&](const std::string& name, const std::string& bytes) {
    if (written.insert(name).second) members.push_back({name, archive_member_spec::kind::file, bytes, {}});
  };
  auto add_link = [&](const std::string& name, const std::string& target) {
    if (written.insert(name).second) members.push_back({name, archive_member_spec::kind::symlink, {}, target});
  };
  ordered_json manifest = ordered_json::array();

  auto add_image = [&](const built_image& im, const std::vector<std::string>& tags, bool first) {
    const std::string config_bytes = im.config.dump();
    const std::string config_name =
        first && !options.config_name.empty() ? options.config_name : hex_of(im.config_digest) + ".json";
    add_file(config_name, config_bytes);
    ordered_json layers = ordered_json::array();
    std::size_t count = im.layers.size();
    if (first && options.drop_last_layer && count > 0) --count;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& l = im.layers[i];
      const std::string hex = hex_of(l.diff_id);
      std::string bytes = l.tar;
      if (first)
        for (const auto& [n, repl] : options.replace_layer)
          if (n == i) bytes = repl;
      if (first && options.escaping_layer == i) {
        const std::string name = "evil" + std::to_string(i) + "/layer.tar";
        add_link(name, options.escape_target);
        layers.push_back(name);
        continue;
      }
      std::string name = hex + ".tar";
      if (!(first && options.absent_layer == i)) add_file(name, bytes);
      if (options.layer_symlinks) {
        // skopeo names the directory by a digest of the chain; any distinct hex will do.
        const std::string id = hex_of(sha256_of("layer-id:" + std::to_string(i) + ":" + l.diff_id.str()));
        add_file(id + "/VERSION", "1.0");
        add_file(id + "/json", ordered_json{{"id", id}, {"created", "1970-01-01T00:00:00Z"}}.dump());
        if (!(first && options.absent_layer == i)) add_link(id + "/layer.tar", "../" + name);
        name = id + "/layer.tar";
      }
      layers.push_back(name);
    }
    if (first)
      for (std::size_t k = 0; k < options.extra_layers; ++k) {
        const std::string tar = make_tar({file("extra" + std::to_string(k), "extra")});
        const std::string name = hex_of(sha256_of(tar)) + ".tar";
        add_file(name, tar);
        layers.push_back(name);
      }
    manifest.push_back(ordered_json{{"Config", config_name}, {"RepoTags", tags}, {"Layers", layers}});
  };

  add_image(img, options.repo_tags, true);
  for (const auto& [other, tags] : options.more_images) add_image(*other, tags, false);
  members.push_back({"manifest.json", archive_member_spec::kind::file,
                     options.manifest_json ? *options.manifest_json : manifest.dump(), {}});
  write_archive_file(path, members);
}

namespace {

struct read_archive_deleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

std::unique_ptr<archive, read_archive_deleter> open_tar_for_reading(const std::string& path) {
  std::unique_ptr<archive, read_archive_deleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    die("open " + path + ": " + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
  return a;
}

std::string read_entry_data(archive* a, const std::string& what) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) die("read " + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "?"));
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

std::string read_archive_member(const std::string& path, const std::string& name) {
  auto a = open_tar_for_reading(path);
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* n = archive_entry_pathname(e);
    if (n && name == n && archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
      return read_entry_data(a.get(), name);
  }
  die("no regular member " + name + " in " + path);
}

void rewrite_archive_member(const std::string& path, const std::string& name, const std::string& bytes) {
  const std::string tmp = path + ".rewrite";
  bool replaced = false;
  {
    auto in = open_tar_for_reading(path);
    std::unique_ptr<archive, int (*)(archive*)> out(archive_write_new(), archive_write_free);
    archive* w = out.get();
    check_archive(w, archive_write_set_format_pax_restricted(w), "pax_restricted");
    check_archive(w, archive_write_add_filter_none(w), "filter none");
    check_archive(w, archive_write_open_filename(w, tmp.c_str()), "open " + tmp);
    archive_entry* e = nullptr;
    int r;
    while ((r = archive_read_next_header(in.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
      const char* n = archive_entry_pathname(e);
      const bool regular = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e);
      std::string data = regular ? read_entry_data(in.get(), n ? n : "?") : std::string();
      if (regular && n && name == n) {
        data = bytes;
        replaced = true;
      }
      if (regular) archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
      check_archive(w, archive_write_header(w, e), std::string("write header of ") + (n ? n : "?"));
      std::size_t done = 0;
      while (done < data.size()) {
        const la_ssize_t k = archive_write_data(w, data.data() + done, data.size() - done);
        if (k <= 0) check_archive(w, ARCHIVE_FATAL, "write data");
        done += static_cast<std::size_t>(k);
      }
    }
    if (r != ARCHIVE_EOF) die("read " + path + ": " + (archive_error_string(in.get()) ? archive_error_string(in.get()) : "?"));
    check_archive(w, archive_write_close(w), "close " + tmp);
  }
  if (!replaced) {
    ::unlink(tmp.c_str());
    die("no regular member " + name + " in " + path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) die("rename " + tmp + ": " + std::strerror(errno));
}

void write_shared_index(const std::vector<built_image>& images) {
  if (images.empty()) die("write_shared_index: no images");
  ordered_json manifests = ordered_json::array();
  for (const auto& im : images) {
    if (im.dir != images.front().dir) die("write_shared_index: images of different layouts");
    ordered_json entry = descriptor_json(media_type::image_manifest, im.manifest_digest, im.manifest_size);
    entry["annotations"] = {{"org.opencontainers.image.ref.name", im.tag}};
    manifests.push_back(entry);
  }
  const ordered_json index{{"schemaVersion", 2}, {"mediaType", media_type::image_index}, {"manifests", manifests}};
  write_file(images.front().dir + "/index.json", index.dump());
}

void hardlink_blob(const built_image& from, const built_image& to, const digest& d) {
  const std::string src = from.blob_path(d);
  const std::string dst = to.blob_path(d);
  if (::unlink(dst.c_str()) != 0 && errno != ENOENT) die("unlink " + dst + ": " + std::strerror(errno));
  if (::link(src.c_str(), dst.c_str()) != 0) die("link " + src + " " + dst + ": " + std::strerror(errno));
}

std::vector<std::size_t> tar_entry_headers(const std::string& tar) {
  std::vector<std::size_t> out;
  for (const auto& h : locate_headers(tar)) out.push_back(h.own);
  return out;
}

std::size_t tar_entries_end(const std::string& tar) {
  const auto headers = locate_headers(tar);
  if (headers.empty()) return 0;
  const std::size_t last = headers.back().own;
  const std::uint64_t size = octal_field(tar, last + 124, 12);
  return last + block + (size + block - 1) / block * block;
}

void fix_tar_checksum(std::string& tar, std::size_t offset) { fix_checksum(tar, offset); }

}  // namespace ocipipe::testing
