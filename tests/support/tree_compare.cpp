#include "tests/support/tree_compare.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include <openssl/evp.h>

namespace ocipipe::testing {
namespace {

struct entry {
  std::string full;  // path to lstat/read, root-prefixed
  struct stat st {};
  std::string link_target;                               // symlinks only
  std::map<std::string, std::string> xattrs;             // name -> value
};

struct tree {
  std::map<std::string, entry> entries;  // relative path -> entry; root is "."
  std::vector<tree_difference> errors;
};

std::string errno_text(int err) { return std::strerror(err); }

const char* type_name(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFSOCK: return "socket";
    default: return "unknown type";
  }
}

std::string octal_mode(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::string timespec_text(const struct timespec& ts) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(ts.tv_sec), ts.tv_nsec);
  return buf;
}

// Printable rendering of an xattr value or symlink target: bytes outside printable ASCII
// become \xNN, long values are cut.
std::string quote_bytes(std::string_view v, std::size_t max = 80) {
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += "\"";
  if (v.size() > max) out += "... (" + std::to_string(v.size()) + " bytes)";
  return out;
}

bool ignored(const std::string& rel, const std::vector<std::string>& ignore) {
  for (const auto& p : ignore) {
    if (rel == p) return true;
    if (rel.size() > p.size() && rel.compare(0, p.size(), p) == 0 && rel[p.size()] == '/')
      return true;
  }
  return false;
}

void add_error(tree& t, const std::string& rel, const std::string& what) {
  t.errors.push_back({rel, tree_check::error, what});
}

// Reads the xattrs of `full` without following a symlink. A file system without xattr
// support has none.
void read_xattrs(tree& t, const std::string& rel, entry& e) {
  std::vector<char> names;
  for (;;) {
    ssize_t n = ::llistxattr(e.full.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP) return;
      add_error(t, rel, "llistxattr: " + errno_text(errno));
      return;
    }
    if (n == 0) return;
    names.resize(static_cast<std::size_t>(n));
    n = ::llistxattr(e.full.c_str(), names.data(), names.size());
    if (n < 0 && errno == ERANGE) continue;  // grew in between
    if (n < 0) {
      add_error(t, rel, "llistxattr: " + errno_text(errno));
      return;
    }
    names.resize(static_cast<std::size_t>(n));
    break;
  }
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name(names.data() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    std::string value;
    for (;;) {
      ssize_t n = ::lgetxattr(e.full.c_str(), name.c_str(), nullptr, 0);
      if (n < 0) {
        add_error(t, rel, "lgetxattr " + name + ": " + errno_text(errno));
        break;
      }
      value.resize(static_cast<std::size_t>(n));
      n = ::lgetxattr(e.full.c_str(), name.c_str(), value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n < 0) {
        add_error(t, rel, "lgetxattr " + name + ": " + errno_text(errno));
        break;
      }
      value.resize(static_cast<std::size_t>(n));
      e.xattrs.emplace(std::move(name), std::move(value));
      break;
    }
  }
}

void read_link(tree& t, const std::string& rel, entry& e) {
  std::string buf(static_cast<std::size_t>(e.st.st_size) + 1, '\0');
  for (;;) {
    ssize_t n = ::readlink(e.full.c_str(), buf.data(), buf.size());
    if (n < 0) {
      add_error(t, rel, "readlink: " + errno_text(errno));
      return;
    }
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      e.link_target = std::move(buf);
      return;
    }
    buf.resize(buf.size() * 2);  // truncated: the target changed size since lstat
  }
}

void walk(tree& t, const std::string& full, const std::string& rel,
          const tree_compare_options& opts) {
  if (ignored(rel, opts.ignore_paths)) return;
  entry e;
  e.full = full;
  if (::lstat(full.c_str(), &e.st) != 0) {
    add_error(t, rel, "lstat: " + errno_text(errno));
    return;
  }
  if (S_ISLNK(e.st.st_mode)) read_link(t, rel, e);
  if (opts.compare_xattrs) read_xattrs(t, rel, e);
  const bool is_dir = S_ISDIR(e.st.st_mode);
  t.entries.emplace(rel, std::move(e));
  if (!is_dir) return;

  // O_NOFOLLOW|O_DIRECTORY: the entry was a directory at lstat time; never follow a symlink
  // swapped in since.
  int fd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    add_error(t, rel, "open directory: " + errno_text(errno));
    return;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd), ::closedir);
  if (!dir) {
    add_error(t, rel, "fdopendir: " + errno_text(errno));
    ::close(fd);
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* d = ::readdir(dir.get())) {
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    names.emplace_back(d->d_name);
    errno = 0;
  }
  if (errno != 0) add_error(t, rel, "readdir: " + errno_text(errno));
  dir.reset();
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    walk(t, full + "/" + n, rel == "." ? n : rel + "/" + n, opts);
  }
}

tree read_tree(const std::string& root, const char* label, const tree_compare_options& opts) {
  tree t;
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) {
    add_error(t, ".", std::string("root of tree ") + label + " \"" + root +
                          "\": lstat: " + errno_text(errno));
    return t;
  }
  if (!S_ISDIR(st.st_mode)) {
    add_error(t, ".", std::string("root of tree ") + label + " \"" + root + "\" is a " +
                          type_name(st.st_mode) + ", not a directory");
    return t;
  }
  walk(t, root, ".", opts);
  for (auto& d : t.errors) d.detail = std::string("tree ") + label + ": " + d.detail;
  return t;
}

// SHA-256 of a regular file's bytes as lowercase hex, or an error text prefixed by "!".
std::string file_digest(const std::string& full) {
  int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return "!open: " + errno_text(errno);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return "!EVP_DigestInit_ex failed";
  }
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return "!read: " + errno_text(err);
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return "!EVP_DigestFinal_ex failed";
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0xf]);
  }
  return out;
}

class comparer {
 public:
  explicit comparer(const tree_compare_options& opts) : opts_(opts) {}

  void add(const std::string& path, tree_check c, std::string detail) {
    diffs_.push_back({path, c, std::move(detail)});
  }

  void compare_entry(const std::string& path, const entry& a, const entry& b) {
    const mode_t ta = a.st.st_mode & S_IFMT;
    const mode_t tb = b.st.st_mode & S_IFMT;
    if (ta != tb) {
      add(path, tree_check::type, std::string(type_name(ta)) + " vs " + type_name(tb));
      return;
    }
    if (opts_.compare_mode && (a.st.st_mode & 07777) != (b.st.st_mode & 07777)) {
      add(path, tree_check::mode,
          "mode " + octal_mode(a.st.st_mode) + " vs " + octal_mode(b.st.st_mode));
    }
    if (opts_.compare_owner && a.st.st_uid != b.st.st_uid) {
      add(path, tree_check::uid,
          "uid " + std::to_string(a.st.st_uid) + " vs " + std::to_string(b.st.st_uid));
    }
    if (opts_.compare_owner && a.st.st_gid != b.st.st_gid) {
      add(path, tree_check::gid,
          "gid " + std::to_string(a.st.st_gid) + " vs " + std::to_string(b.st.st_gid));
    }
    switch (ta) {
      case S_IFREG: compare_regular(path, a, b); break;
      case S_IFLNK:
        if (opts_.compare_symlink_target && a.link_target != b.link_target) {
          add(path, tree_check::symlink_target,
              "target " + quote_bytes(a.link_target) + " vs " + quote_bytes(b.link_target));
        }
        compare_mtime(path, a, b);
        break;
      case S_IFCHR:
      case S_IFBLK:
        if (opts_.compare_devices && a.st.st_rdev != b.st.st_rdev) {
          add(path, tree_check::device,
              "device " + std::to_string(major(a.st.st_rdev)) + ":" +
                  std::to_string(minor(a.st.st_rdev)) + " vs " +
                  std::to_string(major(b.st.st_rdev)) + ":" +
                  std::to_string(minor(b.st.st_rdev)));
        }
        break;
      default: break;  // directories (mtime deliberately not compared), fifos, sockets
    }
    if (opts_.compare_xattrs) compare_xattrs(path, a, b);
  }

  void compare_regular(const std::string& path, const entry& a, const entry& b) {
    if (a.st.st_size != b.st.st_size) {
      if (opts_.compare_size) {
        add(path, tree_check::size,
            "size " + std::to_string(a.st.st_size) + " vs " + std::to_string(b.st.st_size));
      } else if (opts_.compare_content) {
        add(path, tree_check::content, "content differs (sizes " +
                                           std::to_string(a.st.st_size) + " vs " +
                                           std::to_string(b.st.st_size) + ")");
      }
    } else if (opts_.compare_content) {
      std::string da = file_digest(a.full);
      std::string db = file_digest(b.full);
      if (!da.empty() && da[0] == '!') {
        add(path, tree_check::error, "tree A: " + da.substr(1));
      } else if (!db.empty() && db[0] == '!') {
        add(path, tree_check::error, "tree B: " + db.substr(1));
      } else if (da != db) {
        add(path, tree_check::content, "sha256 " + da + " vs " + db);
      }
    }
    compare_mtime(path, a, b);
  }

  void compare_mtime(const std::string& path, const entry& a, const entry& b) {
    if (!opts_.compare_mtime) return;
    const auto& ma = a.st.st_mtim;
    const auto& mb = b.st.st_mtim;
    bool differ = ma.tv_sec != mb.tv_sec || (!opts_.mtime_seconds_only && ma.tv_nsec != mb.tv_nsec);
    if (differ) add(path, tree_check::mtime, "mtime " + timespec_text(ma) + " vs " + timespec_text(mb));
  }

  void compare_xattrs(const std::string& path, const entry& a, const entry& b) {
    for (const auto& [name, value] : a.xattrs) {
      auto it = b.xattrs.find(name);
      if (it == b.xattrs.end()) {
        add(path, tree_check::xattr, "xattr " + name + " only in A");
      } else if (it->second != value) {
        add(path, tree_check::xattr,
            "xattr " + name + " value " + quote_bytes(value) + " vs " + quote_bytes(it->second));
      }
    }
    for (const auto& [name, value] : b.xattrs) {
      if (!a.xattrs.count(name)) add(path, tree_check::xattr, "xattr " + name + " only in B");
    }
  }

  // Hardlink groups among the non-directory paths present in both trees with the same type.
  void compare_hardlinks(const tree& ta, const tree& tb) {
    std::vector<std::pair<const entry*, const entry*>> common;
    std::vector<const std::string*> paths;
    for (const auto& [path, ea] : ta.entries) {
      auto it = tb.entries.find(path);
      if (it == tb.entries.end()) continue;
      const entry& eb = it->second;
      if ((ea.st.st_mode & S_IFMT) != (eb.st.st_mode & S_IFMT) || S_ISDIR(ea.st.st_mode)) continue;
      common.emplace_back(&ea, &eb);
      paths.push_back(&path);
    }
    using inode = std::pair<dev_t, ino_t>;
    std::map<inode, std::vector<std::string>> ga, gb;  // paths in sorted order (map order)
    for (std::size_t i = 0; i < common.size(); ++i) {
      ga[{common[i].first->st.st_dev, common[i].first->st.st_ino}].push_back(*paths[i]);
      gb[{common[i].second->st.st_dev, common[i].second->st.st_ino}].push_back(*paths[i]);
    }
    std::set<std::pair<const std::vector<std::string>*, const std::vector<std::string>*>> seen;
    for (std::size_t i = 0; i < common.size(); ++i) {
      const auto& sa = ga[{common[i].first->st.st_dev, common[i].first->st.st_ino}];
      const auto& sb = gb[{common[i].second->st.st_dev, common[i].second->st.st_ino}];
      if (sa == sb || !seen.insert({&sa, &sb}).second) continue;
      add(*paths[i], tree_check::hardlink,
          "paths sharing the inode " + join(sa) + " vs " + join(sb));
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      out += v[i];
    }
    return out + "}";
  }

  std::vector<tree_difference> take() && { return std::move(diffs_); }

 private:
  const tree_compare_options& opts_;
  std::vector<tree_difference> diffs_;
};

}  // namespace

std::string_view tree_check_name(tree_check c) noexcept {
  switch (c) {
    case tree_check::presence: return "presence";
    case tree_check::type: return "type";
    case tree_check::mode: return "mode";
    case tree_check::uid: return "uid";
    case tree_check::gid: return "gid";
    case tree_check::size: return "size";
    case tree_check::content: return "content";
    case tree_check::symlink_target: return "symlink_target";
    case tree_check::hardlink: return "hardlink";
    case tree_check::xattr: return "xattr";
    case tree_check::mtime: return "mtime";
    case tree_check::device: return "device";
    case tree_check::error: return "error";
  }
  return "error";
}

std::string tree_difference::to_string() const {
  return path + ": " + std::string(tree_check_name(check)) + ": " + detail;
}

std::vector<tree_difference> compare_trees(const std::string& a, const std::string& b,
                                           const tree_compare_options& opts) {
  tree ta = read_tree(a, "A", opts);
  tree tb = read_tree(b, "B", opts);
  if (!ta.entries.count(".") || !tb.entries.count(".")) {
    // A root that is missing or no directory: everything else would be noise.
    ta.errors.insert(ta.errors.end(), tb.errors.begin(), tb.errors.end());
    return ta.errors;
  }
  comparer cmp(opts);

  auto ia = ta.entries.begin();
  auto ib = tb.entries.begin();
  while (ia != ta.entries.end() || ib != tb.entries.end()) {
    if (ib == tb.entries.end() || (ia != ta.entries.end() && ia->first < ib->first)) {
      cmp.add(ia->first, tree_check::presence,
              std::string("only in A (") + type_name(ia->second.st.st_mode) + ")");
      ++ia;
    } else if (ia == ta.entries.end() || ib->first < ia->first) {
      cmp.add(ib->first, tree_check::presence,
              std::string("only in B (") + type_name(ib->second.st.st_mode) + ")");
      ++ib;
    } else {
      cmp.compare_entry(ia->first, ia->second, ib->second);
      ++ia;
      ++ib;
    }
  }
  if (opts.compare_hardlinks) cmp.compare_hardlinks(ta, tb);

  std::vector<tree_difference> diffs = std::move(cmp).take();
  diffs.insert(diffs.end(), ta.errors.begin(), ta.errors.end());
  diffs.insert(diffs.end(), tb.errors.begin(), tb.errors.end());
  std::stable_sort(diffs.begin(), diffs.end(), [](const auto& x, const auto& y) {
    return std::tie(x.path, x.check) < std::tie(y.path, y.check);
  });
  return diffs;
}

std::string format_differences(const std::vector<tree_difference>& diffs, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < diffs.size() && i < limit; ++i) {
    out += diffs[i].to_string();
    out += '\n';
  }
  if (diffs.size() > limit) {
    out += "... and " + std::to_string(diffs.size() - limit) + " more\n";
  }
  return out;
}

}  // namespace ocipipe::testing
