#pragma once
// One tar entry's header, as an image layer carries it (image-spec layer.md
// "File Types", "File Attributes").

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ocipipe {

enum class entry_type : std::uint8_t { regular, directory, symlink, hardlink, char_device,
                                       block_device, fifo };

/// A tar entry header with the path as written in the archive. Value type.
struct tar_entry {
  std::string path;          ///< raw name from the archive (PAX path wins over ustar)
  entry_type type = entry_type::regular;
  std::uint32_t mode = 0;    ///< permission bits incl. setuid/setgid/sticky (07777)
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  std::uint64_t size = 0;    ///< bytes of content (regular files only)
  std::string link_target;   ///< symlink target, or hardlink target path
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
  /// Extended attributes from PAX SCHILY.xattr. / LIBARCHIVE.xattr. records.
  std::vector<std::pair<std::string, std::string>> xattrs;
};

}  // namespace ocipipe
