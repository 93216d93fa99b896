// io/tree_walk_parallel.h: directories listed ahead on helper threads,
// visited in order on the caller's.
#include "io/tree_walk_parallel.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "io/tree_stat.h"
#include "io/unique_fd.h"

namespace ocipipe::io::detail {
namespace {

// One directory's children, lstat'ed, in order; `err` (after them) ends the
// walk there, as the sequential walk would have stopped at that entry.
struct listing {
  std::vector<tree_entry> entries;
  std::optional<error> err;
};

struct dir_job {
  enum class state { queued, running, done };
  std::string rel;  // below the root; "" is the root
  state st = state::queued;
  listing out;
};

// openat2 of `rel` below `dirfd` refusing symlinks anywhere on the way (as
// the sequential walk's O_NOFOLLOW component by component), in pieces
// shorter than PATH_MAX: a tree can be deeper than one path may be long.
unique_fd open_beneath(int dirfd, std::string_view rel) {
  constexpr std::size_t piece = PATH_MAX - 256;
  unique_fd at;
  for (;;) {
    std::string_view part = rel;
    if (rel.size() >= piece) {
      const auto slash = rel.rfind('/', piece);
      if (slash == std::string_view::npos || slash == 0) {
        errno = ENAMETOOLONG;
        return {};
      }
      part = rel.substr(0, slash);
    }
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const std::string path(part);
    unique_fd next(static_cast<int>(::syscall(SYS_openat2, at ? at.get() : dirfd, path.c_str(), &how, sizeof how)));
    if (!next || part.size() == rel.size()) return next;
    at = std::move(next);
    rel.remove_prefix(part.size() + 1);
  }
}

class parallel_walk {
 public:
  parallel_walk(const std::string& root, int root_fd, std::uint64_t root_dev, const tree_walk_options& opts)
      : root_(root), root_fd_(root_fd), root_dev_(root_dev), opts_(opts) {}

  ~parallel_walk() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    work_.notify_all();
    for (auto& t : helpers_) t.join();
  }

  result<void> run(const tree_visitor& visit) {
    enqueue("");
    for (unsigned i = 1; i < opts_.threads; ++i) helpers_.emplace_back([this] { help(); });
    // The caller's own depth-first walk over the listings: a stack of
    // (listing, next index), where the sequential walk has its recursion.
    struct frame {
      listing l;
      std::size_t next = 0;
    };
    std::vector<frame> stack;
    stack.push_back({take("")});
    while (!stack.empty()) {
      auto& f = stack.back();
      if (f.next == f.l.entries.size()) {
        if (f.l.err) return tl::unexpected(std::move(*f.l.err));
        stack.pop_back();
        continue;
      }
      tree_entry& e = f.l.entries[f.next++];
      const bool down = descend(e);
      std::string child = down ? e.path : std::string();
      OCIPIPE_TRY(visit(std::move(e)));
      if (down) stack.push_back({take(child)});  // invalidates f
    }
    return {};
  }

 private:
  bool descend(const tree_entry& e) const { return S_ISDIR(e.mode) && (opts_.cross_mounts || e.dev == root_dev_); }

  // Lists and lstats one directory (any thread).
  listing list(const std::string& rel) {
    listing out;
    const std::string what = rel.empty() ? root_ : rel;
    unique_fd fd = rel.empty() ? unique_fd(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0)) : open_beneath(root_fd_, rel);
    if (!fd) {
      out.err = fail_errno("open " + quote(what), errno).value();
      return out;
    }
    auto names = list_names(fd.get(), what);
    if (!names) {
      out.err = std::move(names).error();
      return out;
    }
    out.entries.reserve(names->size());
    for (const auto& name : *names) {
      auto e = stat_entry(fd.get(), name.c_str(), rel.empty() ? name : rel + "/" + name, opts_.xattrs, root_);
      if (!e) {
        out.err = std::move(e).error();
        break;
      }
      out.entries.push_back(std::move(*e));
    }
    return out;
  }

  void enqueue(std::string rel) {  // under mu_ (or before the helpers start)
    auto job = std::make_shared<dir_job>();
    job->rel = rel;
    if (jobs_.emplace(std::move(rel), job).second) todo_.push_back(std::move(job));
  }

  // Queues the directories of a listing just made, so that helpers list them
  // next, first child last in (the caller needs it first). Under mu_.
  void queue_children(const listing& l) {
    for (auto it = l.entries.rbegin(); it != l.entries.rend(); ++it)
      if (descend(*it)) enqueue(it->path);
  }

  // Marks `job` running, lists it outside the lock, and queues its
  // subdirectories. Called and returns with `lock` held.
  listing claim_and_list(dir_job& job, std::unique_lock<std::mutex>& lock) {
    job.st = dir_job::state::running;
    lock.unlock();
    listing l = list(job.rel);
    lock.lock();
    queue_children(l);
    return l;
  }

  // Lists the next queued directory and publishes its listing; false when
  // none is queued. Called and returns with `lock` held.
  bool run_queued(std::unique_lock<std::mutex>& lock) {
    while (!todo_.empty()) {
      auto job = std::move(todo_.back());
      todo_.pop_back();
      if (job->st != dir_job::state::queued) continue;  // the caller took it itself
      listing l = claim_and_list(*job, lock);
      ahead_ += l.entries.size();
      job->out = std::move(l);
      job->st = dir_job::state::done;
      done_.notify_all();
      work_.notify_all();
      return true;
    }
    return false;
  }

  bool room() const { return ahead_ < parallel_walk_ahead_entries; }

  void help() {
    std::unique_lock lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return stop_ || (!todo_.empty() && room()); });
      if (stop_) return;
      run_queued(lock);
    }
  }

  // The listing of `rel` for the caller: made here when no helper has
  // started it (so the caller never waits on helpers that wait for room);
  // while a helper is at it, the caller lists other queued directories
  // rather than wait (with one helper, at -j2, it was idle all the walk).
  listing take(const std::string& rel) {
    std::unique_lock lock(mu_);
    auto it = jobs_.find(rel);
    // Not queued: a directory that readdir gave twice (it was changing under
    // the walk) and was taken already. Walked again, as the sequential walk would.
    std::shared_ptr<dir_job> job = it != jobs_.end() ? it->second : std::make_shared<dir_job>();
    if (it != jobs_.end()) jobs_.erase(it);
    if (job->st == dir_job::state::queued) {
      job->rel = rel;
      listing l = claim_and_list(*job, lock);
      work_.notify_all();
      return l;
    }
    while (job->st != dir_job::state::done) {
      if (room() && run_queued(lock)) continue;
      done_.wait(lock, [&] { return job->st == dir_job::state::done || (!todo_.empty() && room()); });
    }
    ahead_ -= job->out.entries.size();
    work_.notify_all();
    return std::move(job->out);
  }

  const std::string& root_;
  const int root_fd_;
  const std::uint64_t root_dev_;
  const tree_walk_options& opts_;
  std::mutex mu_;
  std::condition_variable work_, done_;
  std::unordered_map<std::string, std::shared_ptr<dir_job>> jobs_;  // queued, running or done, not yet taken
  std::vector<std::shared_ptr<dir_job>> todo_;                       // queued for helpers; the next at the back
  std::size_t ahead_ = 0;                                            // entries in done listings not yet taken
  bool stop_ = false;
  std::vector<std::thread> helpers_;
};

}  // namespace

bool have_openat2() noexcept {
  static const bool have = [] {
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    const unique_fd fd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how)));
    return fd.get() >= 0;  // ENOSYS, or EPERM from a seccomp filter that does not know it
  }();
  return have;
}

result<void> walk_parallel(const std::string& root, int root_fd, std::uint64_t root_dev,
                           const tree_walk_options& opts, const tree_visitor& visit) {
  parallel_walk w(root, root_fd, root_dev, opts);
  return w.run(visit);
}

}  // namespace ocipipe::io::detail
