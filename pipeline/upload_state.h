#pragma once
// Upload sessions a push leaves behind, so a restarted push goes on from the
// registry's offset instead of sending a big blob again (distribution-spec
// "Pushing a blob in chunks"; api.h copy_options::upload_state_dir). One
// small JSON file per (registry host, repository, blob), replaced atomically
// after every chunk the registry accepted, removed once the blob is there.
// Internal to pipeline/.

#include <cstdint>
#include <optional>
#include <string>

#include "io/registry_client.h"
#include "stages/oci/descriptor.h"

namespace ocipipe::pipeline {

/// The directory a push keeps its sessions in when copy_options names none:
/// $XDG_CACHE_HOME/ocipipe/uploads, else $HOME/.cache/ocipipe/uploads.
[[nodiscard]] std::string default_upload_state_dir();

/// The session files of one directory. The files are the user's own cache:
/// a damaged, foreign or unreadable one is ignored (the blob is uploaded from
/// the start), never an error. Thread-safe for different blobs (each its own
/// file); one blob's file is written from one thread at a time.
class upload_state {
 public:
  /// `dir`: where the files go ("" = default_upload_state_dir()); created
  /// with mode 0700 on the first save.
  explicit upload_state(std::string dir);

  /// The session recorded for blob `d` (digest and size must match) pushed to
  /// `repository` of `host`, or nullopt.
  [[nodiscard]] std::optional<io::upload_session> load(const std::string& host, const std::string& repository,
                                                       const descriptor& d) const;

  /// Records `session` for the blob, replacing the file atomically (temporary
  /// file, fsync, rename). Errors: `io` (naming the file).
  [[nodiscard]] result<void> save(const std::string& host, const std::string& repository, const descriptor& d,
                                  const io::upload_session& session) const;

  /// Removes the blob's file, if any (a failure is ignored: a stale file only
  /// costs one status request in a later run).
  void remove(const std::string& host, const std::string& repository, const descriptor& d) const;

  /// The file's path: dir/<sha256 of "host/repository@digest">.json, so no
  /// registry or repository name ever becomes a path.
  [[nodiscard]] std::string path_of(const std::string& host, const std::string& repository,
                                    const descriptor& d) const;

  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
};

}  // namespace ocipipe::pipeline
