// Recording the state of an unpacked rootfs (pipeline/rootfs_state_record.h).
#include "pipeline/rootfs_state_record.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "io/blob_reader.h"
#include "io/rootfs_state.h"
#include "io/unique_fd.h"
#include "pipeline/graph_arena.h"
#include "pipeline/remote.h"
#include "stages/digester.h"

namespace ocipipe::pipeline {

path_record record_of(const io::tree_entry& e) {
  path_record r;
  r.path = e.path;
  r.mode = e.mode;
  r.uid = e.uid;
  r.gid = e.gid;
  r.size = e.size;
  r.mtime_sec = e.mtime_sec;
  r.mtime_nsec = e.mtime_nsec;
  r.ctime_sec = e.ctime_sec;
  r.ctime_nsec = e.ctime_nsec;
  r.btime_sec = e.btime_sec;
  r.btime_nsec = e.btime_nsec;
  r.ino = e.ino;
  r.link_target = e.link_target;
  return r;
}

result<digest> digest_file_in_tree(int root_fd, const std::string& path, std::uint64_t size) {
  OCIPIPE_ASSIGN_OR_RETURN(auto fd, io::open_file_in_tree(root_fd, path));
  io::blob_file_source src(std::move(fd), size, quote(path));
  digester d;
  for (;;) {
    OCIPIPE_ASSIGN_OR_RETURN(auto chunk, src.next());
    if (chunk.empty()) break;
    d.update(chunk);
  }
  return d.finish();
}

namespace {

// One record per path, written as the walk finds it: a rootfs of millions of
// paths is recorded in the memory of one (HostileBig, issue 10 item 6).
result<void> record(const std::string& rootfs, const image_reference& ref, const resolved_image& image,
                    io::rootfs_state_writer& writer, unsigned threads) {
  io::unique_fd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open " + quote(rootfs), errno);

  io::rootfs_state_header header;
  header.reference = ref.str();
  // A registry or web server has no local path: pack --diff reads the
  // image again through the reference (by the manifest digest recorded).
  if (!is_remote(ref.kind)) {
    char* real = ::realpath(ref.path.c_str(), nullptr);
    if (!real) return fail_errno("resolve " + quote(ref.path), errno);
    header.layout_path = real;
    ::free(real);
  }
  header.manifest.media_type = image.manifest_descriptor.media_type;
  header.manifest.digest = image.manifest_descriptor.digest;
  header.manifest.size = image.manifest_descriptor.size;
  header.config_digest = image.config_descriptor.digest;
  OCIPIPE_TRY(writer.start(std::move(header)));
  io::tree_walk_options walk;
  walk.threads = threads;
  OCIPIPE_TRY(io::for_each_tree_entry(rootfs, walk, [&](io::tree_entry&& e) -> result<void> {
    path_record r = record_of(e);
    // git's racy-clean rule: a change made within the clock tick of the
    // recording could leave size, mtime and ctime as recorded, so such a
    // file's content is remembered too.
    if (S_ISREG(e.mode) &&
        io::racy(e.ctime_sec, e.ctime_nsec, writer.recorded_sec(), writer.recorded_nsec(), writer.racy_window_nsec())) {
      OCIPIPE_ASSIGN_OR_RETURN(r.content, digest_file_in_tree(root.get(), e.path, e.size));
    }
    return writer.add(r);
  }));
  return writer.commit();
}

}  // namespace

void record_rootfs_state(const std::string& rootfs, const image_reference& ref, const resolved_image& image,
                         std::vector<std::pair<std::string, std::string>>& warnings, int jobs) {
  const char* consequence = "no state recorded, so pack --diff of this rootfs is not possible: ";
  auto writer = io::rootfs_state_writer::begin(rootfs);
  if (!writer) {
    // The rootfs is fine; only a later pack --diff of it is not possible.
    const bool unwritable = writer.error().code() == errc::permission_denied;
    warnings.emplace_back(unwritable ? "state.unwritable" : "state.unrecorded", consequence + writer.error().message());
    return;
  }
  // A walk of what was just written is lstat work on a hot cache: threads
  // beyond the cores only wait on one another (-j4096 made 4096 of them).
  const int threads = std::min(jobs_or_cores(jobs), jobs_or_cores(0));
  if (auto ok = record(rootfs, ref, image, *writer, static_cast<unsigned>(threads)); !ok)
    warnings.emplace_back("state.unrecorded", consequence + ok.error().message());
}

void forget_rootfs_state(const std::string& rootfs, std::vector<std::pair<std::string, std::string>>& warnings) {
  if (auto ok = io::remove_rootfs_state(rootfs); !ok)
    warnings.emplace_back("state.unwritable", "stale state file left behind: " + ok.error().message());
}

}  // namespace ocipipe::pipeline
