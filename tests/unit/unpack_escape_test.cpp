// Every way a layer entry can reach outside the rootfs (buglog class 3: B19, B20, B21, and
// the whiteout and hardlink cases of classes 1 and 2 that name a path), table-driven.
//
// Each case unpacks an image built in the test into SCRATCH/rootfs. Around the rootfs sit
// decoys an escape would hit: SCRATCH/outside/ holding a victim file (mode 0644, owned
// 4242:4242, an xattr, an old mtime), a directory with a file in it, and symlinks to both;
// SCRATCH/x beside the rootfs; the image layout itself. Absolute targets in the attacks name
// the scratch's own absolute path (".../SCRATCH/outside"), "/" followed by it, or the
// directory holding SCRATCH ("/tmp"-style) followed by the rest, so that an escape, wherever
// it starts, lands on a decoy. The whole SCRATCH except rootfs/ is snapshotted before and
// after every unpack (every path: type, mode, owner, size, content hash, inode, link count,
// mtime, ctime, link target, xattrs, device number) and must be identical, whether the unpack
// succeeded or failed.
//
// What ocipipe must do otherwise (DESIGN.md §6): every path is resolved as if the rootfs were
// "/": an absolute entry name or symlink target is re-rooted (lands at rootfs/<that path>),
// ".." is clamped at the root when it comes from a symlink target, and an entry *name* that
// climbs above the root is refused (`unsafe_path`). So each case asserts either success with
// the write landed where the re-rooted path says (rootfs/<SCRATCH without "/">/outside/...,
// rootfs/outside/... for a relative "../outside" target), or failure with the code named.
// To show where re-rooted whiteouts and hardlinks act, the base layer plants a "mirror" of
// the decoys at the re-rooted location inside the rootfs.
//
// Families:
//   UnpackEscapeThrough   vector (how a path reaches outside) x operation at a path below it
//   UnpackEscapeFinalLink planted link (the final component) x operation on its name
//   UnpackEscapeRoot      the rootfs root itself as a symlink, file, node, hardlink; odd modes
//   UnpackEscapeWhiteout  whiteout names that name "." or "..", whiteouts of every type below
//                         a symlink to outside, whiteouts reaching a directory through a symlink
//   UnpackEscapeName      names of every entry type that climb (refused) or are absolute
//                         (re-rooted); symlink loops
//   UnpackEscapeAlias     one directory under two names (a later entry through a symlink sets
//                         its metadata), or one name for two directories (no stale metadata)
//   UnpackEscapeHeader    PAX path/linkpath, GNU longname/longlink and ustar prefix with ".."
//   UnpackEscapeHarness   the snapshot and the seccomp filter themselves
// Every case runs three times: through ocipipe::unpack (the kernel's openat2 RESOLVE_IN_ROOT);
// through the ocipipe binary with openat2 made to fail with ENOSYS by a seccomp filter, so the
// O_NOFOLLOW component walk that stands in for it on kernels before 5.6 is checked as well; and
// through ocipipe::unpack rootless (owners in an xattr, directory modes applied at the end).

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/stream_builders.h"
#include "tests/support/emulation.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr std::int64_t decoy_mtime = 1000000000;  // 2001: no entry of the tests uses it
constexpr std::int64_t attack_mtime = 1234567890;
constexpr std::uint32_t decoy_owner = 4242;
constexpr std::uint32_t attack_owner = 1234;

// ---- snapshots of everything around the rootfs ----

struct node_state {
  mode_t mode = 0;  // type and permission bits
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  ino_t ino = 0;
  nlink_t nlink = 0;
  dev_t rdev = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;  // any chmod, chown, link, xattr or write moves it
  std::string content;        // sha256 of a regular file's bytes
  std::string link;           // symlink target
  std::map<std::string, std::string> xattrs;
  std::string error;

  bool operator==(const node_state&) const = default;
};

std::string describe(const node_state& n) {
  std::ostringstream o;
  o << "mode " << std::oct << n.mode << std::dec << " owner " << n.uid << ":" << n.gid << " size "
    << n.size << " ino " << n.ino << " nlink " << n.nlink << " rdev " << n.rdev << " mtime "
    << n.mtime_ns << " ctime " << n.ctime_ns;
  if (!n.content.empty()) o << " content " << n.content.substr(0, 19);
  if (S_ISLNK(n.mode)) o << " -> " << n.link;
  for (const auto& [k, v] : n.xattrs) o << " xattr " << k << "=" << v.size() << "B";
  if (!n.error.empty()) o << " ERROR " << n.error;
  return o.str();
}

using snapshot = std::map<std::string, node_state>;

std::int64_t ns_of(const timespec& t) { return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

node_state state_of(const std::string& path) {
  node_state n;
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    n.error = std::string("lstat: ") + std::strerror(errno);
    return n;
  }
  n.mode = st.st_mode;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.size = st.st_size;
  n.ino = st.st_ino;
  n.nlink = st.st_nlink;
  n.rdev = st.st_rdev;
  n.mtime_ns = ns_of(st.st_mtim);
  n.ctime_ns = ns_of(st.st_ctim);
  if (S_ISREG(st.st_mode)) n.content = sha256_of(read_bytes(path)).str();
  if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX];
    const ssize_t len = ::readlink(path.c_str(), buf, sizeof buf);
    n.link = len < 0 ? "<unreadable>" : std::string(buf, static_cast<std::size_t>(len));
  }
  char names[65536];
  const ssize_t len = ::llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < len;) {
    const std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    char value[65536];
    const ssize_t vlen = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
    n.xattrs[name] = vlen < 0 ? "<unreadable>" : std::string(value, static_cast<std::size_t>(vlen));
  }
  return n;
}

// Every path below `root` (and `root` itself as "."), never following a symlink; `skip`
// (a name directly in `root`) is left out with everything below it.
void walk(const std::string& root, const std::string& rel, const std::string& skip, snapshot& out) {
  const std::string path = rel == "." ? root : root + "/" + rel;
  out[rel] = state_of(path);
  if (!S_ISDIR(out[rel].mode)) return;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    out[rel].error = std::string("opendir: ") + std::strerror(errno);
    return;
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n == "." || n == "..") continue;
    if (rel == "." && n == skip) continue;
    names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) walk(root, rel == "." ? n : rel + "/" + n, skip, out);
}

snapshot take_snapshot(const std::string& scratch) {
  snapshot s;
  walk(scratch, ".", "rootfs", s);
  return s;
}

std::string snapshot_differences(const snapshot& before, const snapshot& after) {
  std::string out;
  for (const auto& [path, b] : before) {
    const auto it = after.find(path);
    if (it == after.end()) {
      out += "  " + path + ": removed (was " + describe(b) + ")\n";
    } else if (!(it->second == b)) {
      out += "  " + path + ": changed\n    before " + describe(b) + "\n    after  " + describe(it->second) + "\n";
    }
  }
  for (const auto& [path, a] : after)
    if (!before.count(path)) out += "  " + path + ": created (" + describe(a) + ")\n";
  return out;
}

// ---- the scratch directory ----

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string without_slash(const std::string& abs) { return abs.substr(abs.find_first_not_of('/') == std::string::npos ? abs.size() : abs.find_first_not_of('/')); }

// SCRATCH: rootfs/ (the target, empty), outside/ (victim, dir/inner, victim-link -> victim,
// dir-link -> dir), x (at the rootfs's "../x"), layout/ (the image).
struct escape_scratch {
  temp_dir tmp{"ocipipe-escape"};
  std::string dir;      // SCRATCH, absolute, no symlinks in it
  std::string rel;      // SCRATCH without its leading "/": where a target naming it lands in rootfs
  std::string up;       // the directory holding SCRATCH ("/tmp")
  std::string base;     // SCRATCH's own name
  std::string rootfs;
  std::string outside;
  std::string layout;

  escape_scratch() {
    char* real = ::realpath(tmp.path().c_str(), nullptr);
    must(real != nullptr, "realpath " + tmp.path());
    dir = real;
    std::free(real);
    rel = without_slash(dir);
    const auto slash = dir.rfind('/');
    up = slash == 0 ? "/" : dir.substr(0, slash);
    base = dir.substr(slash + 1);
    rootfs = dir + "/rootfs";
    outside = dir + "/outside";
    layout = dir + "/layout";

    must(::mkdir(rootfs.c_str(), 0755) == 0, "mkdir rootfs");
    must(::mkdir(outside.c_str(), 0755) == 0, "mkdir outside");
    must(::mkdir((outside + "/dir").c_str(), 0755) == 0, "mkdir outside/dir");
    decoy_file(outside + "/victim", "host victim\n", 0644);
    decoy_file(outside + "/dir/inner", "host inner\n", 0600);
    decoy_file(dir + "/x", "host sibling\n", 0644);
    must(::symlink("victim", (outside + "/victim-link").c_str()) == 0, "symlink victim-link");
    must(::symlink("dir", (outside + "/dir-link").c_str()) == 0, "symlink dir-link");
    for (const auto& p : {outside, outside + "/dir"}) {
      ::lsetxattr(p.c_str(), "user.decoy", "host", 4, 0);  // best effort: the filesystem may refuse
      must(::lchown(p.c_str(), decoy_owner, decoy_owner) == 0 || errno == EPERM, "chown " + p);
    }
    // Times last: creating the children moved their directories' mtimes.
    const timespec old[2] = {{decoy_mtime, 0}, {decoy_mtime, 0}};
    for (const auto& p : {outside + "/victim", outside + "/dir/inner", dir + "/x", outside + "/victim-link",
                          outside + "/dir-link", outside + "/dir", outside})
      must(::utimensat(AT_FDCWD, p.c_str(), old, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + p);
  }

  static void decoy_file(const std::string& path, const std::string& content, mode_t mode) {
    write_bytes(path, content);
    must(::chmod(path.c_str(), mode) == 0, "chmod " + path);
    must(::lchown(path.c_str(), decoy_owner, decoy_owner) == 0 || errno == EPERM, "chown " + path);
    ::lsetxattr(path.c_str(), "user.decoy", "host", 4, 0);
  }

  /// rootfs/<r> ("" is the rootfs itself).
  [[nodiscard]] std::string at(const std::string& r) const { return r.empty() ? rootfs : rootfs + "/" + r; }
};

// ---- checks inside the rootfs ----

bool is_type(const std::string& path, mode_t type) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == type;
}

std::string link_of(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<not a symlink>") : std::string(buf, static_cast<std::size_t>(n));
}

bool same_inode(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  return ::lstat(a.c_str(), &sa) == 0 && ::lstat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string xattr_of(const std::string& path, const std::string& name) {
  char buf[4096];
  const ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<") + std::strerror(errno) + ">" : std::string(buf, static_cast<std::size_t>(n));
}

bool root() { return ::geteuid() == 0; }

#define EXPECT_REGULAR_WITH(path, content)                        \
  do {                                                            \
    EXPECT_TRUE(is_type(path, S_IFREG)) << (path);                \
    EXPECT_EQ(read_bytes(path), content) << (path);               \
  } while (0)

// ---- entries the attacks use ----

/// An entry carrying everything an escape could leak to the host: owner, mode, mtime, xattr.
tar_spec_entry loaded(tar_spec_entry e, std::uint32_t mode) {
  e.mode = mode;
  e.uid = attack_owner;
  e.gid = attack_owner;
  e.mtime = attack_mtime;
  e.xattrs = {{"user.pwn", "1"}};
  return e;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// ---- running a case ----

/// How the unpack runs: ocipipe::unpack as root (openat2 RESOLVE_IN_ROOT), the ocipipe
/// binary without openat2 (the O_NOFOLLOW component walk), or ocipipe::unpack rootless (no
/// chown, no device nodes, owners in an xattr, directory modes set by finish()).
enum class resolver { openat2, component_walk, rootless };

const char* resolver_name(resolver r) {
  switch (r) {
    case resolver::openat2: return "Openat2";
    case resolver::component_walk: return "ComponentWalk";
    case resolver::rootless: return "Rootless";
  }
  return "?";
}

resolver current_resolver = resolver::openat2;  // of the case running now, for the checks

/// Whether entries' owners (and device nodes) are applied in the running case.
bool owners_applied() { return root() && current_resolver != resolver::rootless; }

struct outcome {
  bool ok = false;
  std::string code;  // errc_name on failure
  std::string message;
};

// Makes openat2 fail with ENOSYS in this process and what it execs, as on a kernel before
// 5.6. Async-signal-safe: called between fork and exec.
sock_filter no_openat2_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(offsetof(seccomp_data, nr))),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

bool forbid_openat2() {
  sock_fprog prog{static_cast<unsigned short>(std::size(no_openat2_filter)), no_openat2_filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// ocipipe unpack --json, with openat2 answering ENOSYS (seccomp), so io/resolve_in_root.cpp
// takes its component walk. Output goes to a directory outside SCRATCH.
outcome unpack_without_openat2(const built_image& img, const std::string& rootfs) {
  temp_dir out_dir("ocipipe-escape-cli");
  const std::string out_path = out_dir.sub("stdout");
  const std::string err_path = out_dir.sub("stderr");
  // --no-state: the state file pack --diff keeps beside the rootfs is a write outside it
  // by design (rootfs_state_test.cpp); here SCRATCH must show only what the layers did.
  const std::vector<std::string> args = {ocipipe_binary(), "unpack", "--json", "--progress=never", "-j", "2",
                                         "--no-state", img.ref_text(), rootfs};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return {false, "fork", std::strerror(errno)};
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!forbid_openat2()) ::_exit(124);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  const auto limit = scaled_timeout(std::chrono::seconds(120));
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return {false, "waitpid", std::strerror(errno)};
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {false, "timeout", "ocipipe unpack did not end within " + std::to_string(limit.count()) + " s"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  outcome o;
  o.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  o.message = read_bytes(err_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) >= 124) {
    o.code = "spawn";
    o.message = "status " + std::to_string(status) + ": " + o.message;
    return o;
  }
  for (const auto& line : lines_of(read_bytes(out_path))) {
    // {"type":"end","schema":1,"data":{...,"status":"error","error":{"code":...}}}
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) continue;
    const auto& data = j["data"];
    if (data.contains("error") && data["error"].is_object()) o.code = data["error"].value("code", std::string());
  }
  return o;
}

outcome run_unpack(const built_image& img, const std::string& rootfs, resolver how) {
  if (how == resolver::component_walk) return unpack_without_openat2(img, rootfs);
  unpack_options opts;
  opts.jobs = 2;
  opts.rootless = how == resolver::rootless;
  opts.record_state = false;  // as --no-state above
  auto r = unpack(img.ref(), rootfs, opts);
  if (r) return {true, "", ""};
  return {false, std::string(errc_name(r.error().code())), r.error().message()};
}

/// What a case builds and what it must come to.
struct case_spec {
  std::vector<layer_spec> layers;
  /// Must fail with this code; nullopt: must succeed.
  std::optional<errc> fails;
  /// On success: where the writes landed inside the rootfs.
  std::function<void()> check;
};

void run_case(const escape_scratch& s, const case_spec& c, resolver how) {
  if (how == resolver::component_walk && !test_emulator().empty())
    GTEST_SKIP() << "under " << test_emulator() << ", which installs no seccomp filter for its guest, openat2 "
                 << "cannot be taken away: the component walk is tested by native runs";
  std::vector<layer_spec> layers = c.layers;
  for (auto& l : layers) l.compression = layer_compression::none;
  const auto img = build_layout(s.layout, "t", layers);
  current_resolver = how;
  const auto before = take_snapshot(s.dir);
  ASSERT_GT(before.size(), 8u);
  const outcome o = run_unpack(img, s.rootfs, how);
  const auto after = take_snapshot(s.dir);
  const auto diffs = snapshot_differences(before, after);
  EXPECT_TRUE(diffs.empty()) << "SCRATCH outside rootfs/ changed (" << (o.ok ? "unpack succeeded" : "unpack failed")
                             << "):\n" << diffs;
  if (c.fails) {
    EXPECT_FALSE(o.ok) << "unpack succeeded; expected " << errc_name(*c.fails);
    if (!o.ok) {
      EXPECT_EQ(o.code, errc_name(*c.fails)) << o.message;
    }
    EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{}) << "a failed unpack leaves the rootfs empty";
  } else {
    ASSERT_TRUE(o.ok) << o.code << ": " << o.message;
    if (c.check) c.check();
  }
}

/// The base layer every case starts from: inside.txt (a hardlink target), etc/, and, when
/// `mirror` names a rootfs-relative directory, a copy of the decoys there (victim,
/// dir/inner) for re-rooted writes, whiteouts and hardlinks to act on.
std::vector<tar_spec_entry> base_entries(const std::optional<std::string>& mirror) {
  std::vector<tar_spec_entry> e = {file("inside.txt", "inside"), dir("etc/")};
  if (mirror) {
    e.push_back(file(join(*mirror, "victim"), "mirror victim"));
    e.push_back(dir(join(*mirror, "dir/")));
    e.push_back(file(join(*mirror, "dir/inner"), "mirror inner"));
  }
  return e;
}

// ==== UnpackEscapeThrough: vector x operation below it ====

/// How entry names reach a directory outside: the operation's names are `prefix` + rel,
/// where rel is relative to SCRATCH/outside ("victim", "dir/new.txt", ".wh.victim").
struct through_setup {
  std::vector<std::vector<tar_spec_entry>> lower;  // layers between the base and the attack layer
  std::vector<tar_spec_entry> same;                 // the attack layer, before the operation
  std::string prefix;
  /// The rootfs-relative directory `prefix` resolves to; nullopt: the vector is refused.
  std::optional<std::string> lands;
  bool mirror = true;  // plant the decoys' copy at `lands`
};

struct through_vector {
  const char* name;
  through_setup (*make)(const escape_scratch& s);
};

const std::vector<through_vector>& through_vectors() {
  static const std::vector<through_vector> v = {
      // Entry names that climb: refused, whatever the operation.
      {"DotDotName", [](const escape_scratch&) { return through_setup{{}, {}, "../outside/", std::nullopt}; }},
      {"InnerDotDotName", [](const escape_scratch&) { return through_setup{{}, {}, "a/../../outside/", std::nullopt}; }},
      {"DotSlashDotDotName", [](const escape_scratch&) { return through_setup{{}, {}, "./../outside/", std::nullopt}; }},
      {"DeepDotDotName",
       [](const escape_scratch& s) {
         return through_setup{{}, {}, "a/b/" + repeat("../", 12) + s.rel + "/outside/", std::nullopt};
       }},
      // Absolute entry names: re-rooted.
      {"AbsoluteName",
       [](const escape_scratch& s) { return through_setup{{}, {}, s.dir + "/outside/", s.rel + "/outside"}; }},
      {"DoubleSlashAbsoluteName",
       [](const escape_scratch& s) { return through_setup{{}, {}, "/" + s.dir + "/outside/", s.rel + "/outside"}; }},
      // A symlink planted by an earlier entry or layer, as a parent component.
      {"AbsoluteSymlinkSameLayer",
       [](const escape_scratch& s) {
         return through_setup{{}, {symlink("pwn", s.dir + "/outside")}, "pwn/", s.rel + "/outside"};
       }},
      {"AbsoluteSymlinkLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("pwn", s.dir + "/outside")}}, {}, "pwn/", s.rel + "/outside"};
       }},
      {"AbsoluteSymlinkToMissingTargetLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("pwn", s.dir + "/outside")}}, {}, "pwn/", s.rel + "/outside", false};
       }},
      {"RelativeSymlinkSameLayer",
       [](const escape_scratch&) { return through_setup{{}, {symlink("pwn", "../outside")}, "pwn/", "outside"}; }},
      {"RelativeSymlinkToMissingTargetSameLayer",
       [](const escape_scratch&) {
         return through_setup{{}, {symlink("pwn", "../outside")}, "pwn/", "outside", false};
       }},
      {"NestedRelativeSymlinkLowerLayer",
       [](const escape_scratch&) {
         return through_setup{{{dir("a/"), dir("a/b/"), symlink("a/b/pwn", "../../../outside")}}, {}, "a/b/pwn/",
                              "outside"};
       }},
      {"DeepRelativeSymlinkLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("pwn", repeat("../", 12) + s.rel + "/outside")}}, {}, "pwn/",
                              s.rel + "/outside"};
       }},
      {"SymlinkToSlashSameLayer",
       [](const escape_scratch& s) {
         return through_setup{{}, {symlink("pwn", "/")}, "pwn" + s.dir + "/outside/", s.rel + "/outside"};
       }},
      {"SymlinkToScratchParentLowerLayer",  // "/tmp"-style: the directory holding SCRATCH
       [](const escape_scratch& s) {
         return through_setup{{{symlink("pwn", s.up)}}, {}, "pwn/" + s.base + "/outside/", s.rel + "/outside"};
       }},
      {"SymlinkToScratchSameLayer",
       [](const escape_scratch& s) {
         return through_setup{{}, {symlink("pwn", s.dir)}, "pwn/outside/", s.rel + "/outside"};
       }},
      // Chains: link -> link -> outside.
      {"RelativeSymlinkChainSameLayer",
       [](const escape_scratch&) {
         return through_setup{
             {}, {dir("sub/"), symlink("l1", "l2"), symlink("l2", "sub/l3"), symlink("sub/l3", "../../outside")},
             "l1/", "outside"};
       }},
      {"SymlinkChainEndingAbsoluteLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("l1", "l2"), symlink("l2", "l3"), symlink("l3", s.dir + "/outside")}}, {},
                              "l1/", s.rel + "/outside"};
       }},
      {"SymlinkChainAcrossLayers",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("l3", s.dir + "/outside")}, {symlink("l2", "l3")}}, {symlink("l1", "l2")},
                              "l1/", s.rel + "/outside"};
       }},
      // A directory replaced by a symlink between layers, and inside one layer (after the
      // writer has used the directory as a parent).
      {"SymlinkReplacesDirectoryBetweenLayers",
       [](const escape_scratch& s) {
         return through_setup{{{dir("d/"), file("d/keep", "k")}, {symlink("d", s.dir + "/outside")}}, {}, "d/",
                              s.rel + "/outside"};
       }},
      {"SymlinkReplacesDirectoryInLayer",
       [](const escape_scratch&) {
         return through_setup{{}, {dir("d/"), file("d/keep", "k"), symlink("d", "../outside")}, "d/", "outside"};
       }},
      // Hardlinks to a symlink: another name of the link (CVE-2021-32760).
      {"HardlinkToAbsoluteSymlinkSameLayer",
       [](const escape_scratch& s) {
         return through_setup{{}, {symlink("evil", s.dir + "/outside"), hardlink("h", "evil")}, "h/",
                              s.rel + "/outside"};
       }},
      {"HardlinkToRelativeSymlinkLowerLayer",
       [](const escape_scratch&) {
         return through_setup{{{symlink("evil", "../outside"), hardlink("h", "evil")}}, {}, "h/", "outside"};
       }},
      // A magic link on the host; inside the rootfs an ordinary path.
      {"SymlinkToProcSelfRootLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink("pwn", "/proc/self/root" + s.dir + "/outside")}}, {}, "pwn/",
                              "proc/self/root/" + s.rel + "/outside"};
       }},
      // "pwn/.." is lexical: the symlink's target never counts (the kernel would give
      // SCRATCH/outside).
      {"DotDotAfterSymlinkSameLayer",
       [](const escape_scratch& s) {
         return through_setup{{}, {symlink("pwn", s.dir + "/outside/dir")}, "pwn/../", ""};
       }},
      // The rootfs root made a symlink (CVE-2021-29136): refused.
      {"RootTurnedSymlinkLowerLayer",
       [](const escape_scratch& s) {
         return through_setup{{{symlink(".", s.dir + "/outside")}}, {}, "", std::nullopt};
       }},
      {"RootTurnedSymlinkSameLayer",
       [](const escape_scratch&) { return through_setup{{}, {symlink("/", "../outside")}, "", std::nullopt}; }},
  };
  return v;
}

struct through_env {
  const escape_scratch& s;
  std::string at;  // rootfs/<lands>, absolute
  bool mirror;
  [[nodiscard]] std::string in(const std::string& r) const { return at + "/" + r; }
};

struct through_op {
  const char* name;
  std::vector<tar_spec_entry> (*entries)(const std::string& p);
  /// For a vector that re-roots: the code it must fail with (nullopt: succeeds).
  std::optional<errc> (*fails)(bool mirror);
  void (*check)(const through_env& e);
};

std::optional<errc> never(bool) { return std::nullopt; }

const std::vector<through_op>& through_ops() {
  static const std::vector<through_op> v = {
      {"WriteNewFile",
       [](const std::string& p) { return std::vector{loaded(file(p + "dir/new.txt", "pwned"), 0640)}; }, never,
       [](const through_env& e) {
         EXPECT_REGULAR_WITH(e.in("dir/new.txt"), "pwned");
         EXPECT_EQ(lstat_of(e.in("dir/new.txt")).st_mode & 07777, 0640u);
         EXPECT_EQ(xattr_of(e.in("dir/new.txt"), "user.pwn"), "1");
         if (owners_applied()) { EXPECT_EQ(lstat_of(e.in("dir/new.txt")).st_uid, attack_owner); }
       }},
      {"OverwriteFile",
       [](const std::string& p) { return std::vector{loaded(file(p + "victim", "pwned"), 0600)}; }, never,
       [](const through_env& e) {
         EXPECT_REGULAR_WITH(e.in("victim"), "pwned");
         EXPECT_EQ(lstat_of(e.in("victim")).st_mode & 07777, 0600u);
       }},
      {"CreateDirectory", [](const std::string& p) { return std::vector{dir(p + "dir/newdir/", 0700)}; }, never,
       [](const through_env& e) {
         EXPECT_TRUE(is_type(e.in("dir/newdir"), S_IFDIR));
         if (e.mirror) { EXPECT_REGULAR_WITH(e.in("dir/inner"), "mirror inner"); }
       }},
      {"CreateMissingParents",
       [](const std::string& p) { return std::vector{file(p + "nodir/p/q/leaf", "pwned")}; }, never,
       [](const through_env& e) { EXPECT_REGULAR_WITH(e.in("nodir/p/q/leaf"), "pwned"); }},
      {"ChmodChownMtimeXattrOfExistingDirectory",
       [](const std::string& p) { return std::vector{loaded(dir(p + "dir/"), 0700)}; }, never,
       [](const through_env& e) {
         const auto st = lstat_of(e.in("dir"));
         EXPECT_TRUE(S_ISDIR(st.st_mode));
         EXPECT_EQ(st.st_mode & 07777, 0700u);
         EXPECT_EQ(st.st_mtim.tv_sec, attack_mtime);
         EXPECT_EQ(xattr_of(e.in("dir"), "user.pwn"), "1");
         if (owners_applied()) { EXPECT_EQ(st.st_uid, attack_owner); }
         if (e.mirror) EXPECT_REGULAR_WITH(e.in("dir/inner"), "mirror inner");
       }},
      {"CreateFifo", [](const std::string& p) { return std::vector{fifo(p + "dir/fifo")}; }, never,
       [](const through_env& e) { EXPECT_TRUE(is_type(e.in("dir/fifo"), S_IFIFO)); }},
      {"CreateCharDevice", [](const std::string& p) { return std::vector{char_device(p + "dir/null", 1, 3)}; },
       never,
       [](const through_env& e) {
         if (owners_applied()) { EXPECT_TRUE(is_type(e.in("dir/null"), S_IFCHR)); }
       }},
      {"CreateHardlink", [](const std::string& p) { return std::vector{hardlink(p + "dir/hl", "inside.txt")}; },
       never,
       [](const through_env& e) { EXPECT_TRUE(same_inode(e.in("dir/hl"), e.s.at("inside.txt"))); }},
      {"ReplaceFileWithHardlink",
       [](const std::string& p) { return std::vector{hardlink(p + "victim", "inside.txt")}; }, never,
       [](const through_env& e) { EXPECT_TRUE(same_inode(e.in("victim"), e.s.at("inside.txt"))); }},
      {"CreateSymlink", [](const std::string& p) { return std::vector{symlink(p + "dir/sl", "/etc/shadow")}; },
       never, [](const through_env& e) { EXPECT_EQ(link_of(e.in("dir/sl")), "/etc/shadow"); }},
      {"HardlinkToFileBelow", [](const std::string& p) { return std::vector{hardlink("stolen", p + "victim")}; },
       [](bool mirror) -> std::optional<errc> {
         if (mirror) return std::nullopt;
         return errc::malformed;  // the re-rooted target does not exist
       },
       [](const through_env& e) {
         EXPECT_TRUE(same_inode(e.s.at("stolen"), e.in("victim")));
         EXPECT_EQ(read_bytes(e.s.at("stolen")), "mirror victim");
       }},
      {"WhiteoutFile", [](const std::string& p) { return std::vector{file(p + ".wh.victim")}; }, never,
       [](const through_env& e) {
         EXPECT_FALSE(path_exists(e.in("victim")));
         if (e.mirror) { EXPECT_TRUE(is_type(e.in("dir"), S_IFDIR)); }
       }},
      {"WhiteoutDirectory", [](const std::string& p) { return std::vector{file(p + ".wh.dir")}; }, never,
       [](const through_env& e) {
         EXPECT_FALSE(path_exists(e.in("dir")));
         if (e.mirror) { EXPECT_REGULAR_WITH(e.in("victim"), "mirror victim"); }
       }},
      {"WhiteoutSymlinkedSibling", [](const std::string& p) { return std::vector{file(p + ".wh.victim-link")}; },
       never, [](const through_env& e) { EXPECT_FALSE(path_exists(e.in("victim-link"))); }},
      {"OpaqueWhiteoutOfDirectory", [](const std::string& p) { return std::vector{file(p + "dir/.wh..wh..opq")}; },
       never,
       [](const through_env& e) {
         if (!e.mirror) return;
         EXPECT_TRUE(is_type(e.in("dir"), S_IFDIR));
         EXPECT_EQ(names_in(e.in("dir")), std::vector<std::string>{});
         EXPECT_REGULAR_WITH(e.in("victim"), "mirror victim");
       }},
      {"OpaqueWhiteoutOfParent", [](const std::string& p) { return std::vector{file(p + ".wh..wh..opq")}; }, never,
       [](const through_env& e) {
         EXPECT_FALSE(path_exists(e.in("victim")));
         EXPECT_FALSE(path_exists(e.in("dir")));
       }},
  };
  return v;
}

case_spec make_through_case(const escape_scratch& s, const through_vector& vec, const through_op& op) {
  const auto setup = vec.make(s);
  case_spec c;
  const std::optional<std::string> mirror = setup.lands && setup.mirror ? setup.lands : std::nullopt;
  c.layers.push_back(layer(base_entries(mirror)));
  for (const auto& l : setup.lower) c.layers.push_back(layer(l));
  auto attack = setup.same;
  for (auto& e : op.entries(setup.prefix)) attack.push_back(std::move(e));
  c.layers.push_back(layer(attack));
  if (!setup.lands) {
    c.fails = errc::unsafe_path;
    return c;
  }
  c.fails = op.fails(setup.mirror);
  const through_env env{s, s.at(*setup.lands), setup.mirror};
  c.check = [env, check = op.check] { check(env); };
  return c;
}

using through_param = std::tuple<std::size_t, std::size_t, resolver>;

class UnpackEscapeThrough : public ::testing::TestWithParam<through_param> {};

TEST_P(UnpackEscapeThrough, StaysInRootfs) {
  const auto [v, o, how] = GetParam();
  escape_scratch s;
  run_case(s, make_through_case(s, through_vectors()[v], through_ops()[o]), how);
}

INSTANTIATE_TEST_SUITE_P(
    , UnpackEscapeThrough,
    ::testing::Combine(::testing::Range<std::size_t>(0, through_vectors().size()),
                       ::testing::Range<std::size_t>(0, through_ops().size()),
                       ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
    [](const ::testing::TestParamInfo<through_param>& info) {
      return std::string(through_vectors()[std::get<0>(info.param)].name) + "_" +
             through_ops()[std::get<1>(info.param)].name + "_" + resolver_name(std::get<2>(info.param));
    });

// ==== UnpackEscapeFinalLink: a planted link, and an entry on its own name ====

enum class target_kind { file, directory, none };

struct final_setup {
  std::vector<std::vector<tar_spec_entry>> lower;
  std::vector<tar_spec_entry> same;
  std::string link;    // the planted link's name: the operation acts on it
  std::string target;  // rootfs-relative path it resolves to
  target_kind kind;    // what the base layer plants at `target`
  bool link_in_lower;
};

struct final_vector {
  const char* name;
  final_setup (*make)(const escape_scratch& s);
};

const std::vector<final_vector>& final_vectors() {
  using k = target_kind;
  static const std::vector<final_vector> v = {
      {"AbsoluteSymlinkToFileSameLayer",
       [](const escape_scratch& s) {
         return final_setup{{}, {symlink("lnk", s.dir + "/outside/victim")}, "lnk", s.rel + "/outside/victim",
                            k::file, false};
       }},
      {"AbsoluteSymlinkToFileLowerLayer",
       [](const escape_scratch& s) {
         return final_setup{{{symlink("lnk", s.dir + "/outside/victim")}}, {}, "lnk", s.rel + "/outside/victim",
                            k::file, true};
       }},
      {"RelativeSymlinkToFileSameLayer",
       [](const escape_scratch&) {
         return final_setup{{}, {symlink("lnk", "../outside/victim")}, "lnk", "outside/victim", k::file, false};
       }},
      {"NestedRelativeSymlinkToFileLowerLayer",
       [](const escape_scratch&) {
         return final_setup{{{dir("a/"), symlink("a/lnk", "../../outside/victim")}}, {}, "a/lnk", "outside/victim",
                            k::file, true};
       }},
      {"AbsoluteSymlinkToDirectorySameLayer",
       [](const escape_scratch& s) {
         return final_setup{{}, {symlink("lnk", s.dir + "/outside/dir")}, "lnk", s.rel + "/outside/dir",
                            k::directory, false};
       }},
      {"RelativeSymlinkToDirectoryLowerLayer",
       [](const escape_scratch&) {
         return final_setup{{{symlink("lnk", "../outside/dir")}}, {}, "lnk", "outside/dir", k::directory, true};
       }},
      {"SymlinkChainToFileLowerLayer",
       [](const escape_scratch& s) {
         return final_setup{
             {{symlink("lnk", "l2"), symlink("l2", "l3"), symlink("l3", s.dir + "/outside/victim")}}, {}, "lnk",
             s.rel + "/outside/victim", k::file, true};
       }},
      {"SymlinkChainToDirectorySameLayer",
       [](const escape_scratch&) {
         return final_setup{{}, {symlink("lnk", "l2"), symlink("l2", "../outside/dir")}, "lnk", "outside/dir",
                            k::directory, false};
       }},
      {"SymlinkToHostSymlinkLowerLayer",
       [](const escape_scratch& s) {
         return final_setup{{{symlink("lnk", s.dir + "/outside/victim-link")}}, {}, "lnk",
                            s.rel + "/outside/victim-link", k::none, true};
       }},
      {"DanglingSymlinkToNewHostFileSameLayer",
       [](const escape_scratch& s) {
         return final_setup{{}, {symlink("lnk", s.dir + "/outside/new.txt")}, "lnk", s.rel + "/outside/new.txt",
                            k::none, false};
       }},
      {"SymlinkToSlashSameLayer",
       [](const escape_scratch&) { return final_setup{{}, {symlink("lnk", "/")}, "lnk", "", k::directory, false}; }},
      {"SymlinkToScratchParentLowerLayer",
       [](const escape_scratch& s) {
         return final_setup{{{symlink("lnk", s.up)}}, {}, "lnk", without_slash(s.up), k::none, true};
       }},
      {"HardlinkToAbsoluteSymlinkToFileSameLayer",
       [](const escape_scratch& s) {
         return final_setup{{}, {symlink("evil", s.dir + "/outside/victim"), hardlink("lnk", "evil")}, "lnk",
                            s.rel + "/outside/victim", k::file, false};
       }},
      {"HardlinkToRelativeSymlinkToDirectoryLowerLayer",
       [](const escape_scratch&) {
         return final_setup{{{symlink("evil", "../outside/dir"), hardlink("lnk", "evil")}}, {}, "lnk", "outside/dir",
                            k::directory, true};
       }},
      {"SymlinkReplacesDirectoryBetweenLayers",
       [](const escape_scratch& s) {
         return final_setup{{{dir("lnk/"), file("lnk/inner", "old")}, {symlink("lnk", s.dir + "/outside/dir")}},
                            {},
                            "lnk",
                            s.rel + "/outside/dir",
                            k::directory,
                            true};
       }},
  };
  return v;
}

struct final_env {
  const escape_scratch& s;
  std::string link;    // rootfs/<link>
  std::string target;  // rootfs/<target>
  target_kind kind;
  bool link_in_lower;

  // The mirror at the link's target is as the base layer left it.
  void expect_target_intact() const {
    if (kind == target_kind::file) { EXPECT_REGULAR_WITH(target, "mirror victim"); }
    if (kind == target_kind::directory) EXPECT_REGULAR_WITH(target + "/inner", "mirror inner");
  }
};

struct final_op {
  const char* name;
  std::vector<tar_spec_entry> (*entries)(const std::string& link);
  std::optional<errc> (*fails)(target_kind kind);
  void (*check)(const final_env& e);
};

std::optional<errc> never_k(target_kind) { return std::nullopt; }

std::string whiteout_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? ".wh." + path : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
}

const std::vector<final_op>& final_ops() {
  static const std::vector<final_op> v = {
      {"ReplaceWithFile", [](const std::string& n) { return std::vector{loaded(file(n, "pwned"), 0600)}; },
       never_k,
       [](const final_env& e) {
         EXPECT_REGULAR_WITH(e.link, "pwned");
         EXPECT_EQ(lstat_of(e.link).st_mode & 07777, 0600u);
         e.expect_target_intact();
       }},
      {"ReplaceWithDirectoryChmodChownMtimeXattr",
       [](const std::string& n) { return std::vector{loaded(dir(n + "/"), 0700)}; }, never_k,
       [](const final_env& e) {
         const auto st = lstat_of(e.link);
         EXPECT_TRUE(S_ISDIR(st.st_mode));
         EXPECT_EQ(st.st_mode & 07777, 0700u);
         EXPECT_EQ(st.st_mtim.tv_sec, attack_mtime);
         EXPECT_EQ(xattr_of(e.link, "user.pwn"), "1");
         if (owners_applied()) { EXPECT_EQ(st.st_uid, attack_owner); }
         EXPECT_EQ(names_in(e.link), std::vector<std::string>{});
         e.expect_target_intact();
       }},
      {"ReplaceWithFifo", [](const std::string& n) { return std::vector{fifo(n, 0600)}; }, never_k,
       [](const final_env& e) {
         EXPECT_TRUE(is_type(e.link, S_IFIFO));
         EXPECT_EQ(lstat_of(e.link).st_mode & 07777, 0600u);
         e.expect_target_intact();
       }},
      {"ReplaceWithCharDevice", [](const std::string& n) { return std::vector{char_device(n, 1, 3, 0666)}; },
       never_k,
       [](const final_env& e) {
         if (owners_applied()) { EXPECT_TRUE(is_type(e.link, S_IFCHR)); }
         e.expect_target_intact();
       }},
      {"ReplaceWithHardlink", [](const std::string& n) { return std::vector{hardlink(n, "inside.txt")}; }, never_k,
       [](const final_env& e) {
         EXPECT_TRUE(same_inode(e.link, e.s.at("inside.txt")));
         e.expect_target_intact();
       }},
      {"ReplaceWithSymlink", [](const std::string& n) { return std::vector{symlink(n, "/etc/hostname")}; }, never_k,
       [](const final_env& e) {
         EXPECT_EQ(link_of(e.link), "/etc/hostname");
         e.expect_target_intact();
       }},
      {"HardlinkToLinkNeverFollowsIt",
       [](const std::string& n) { return std::vector{loaded(hardlink("h2", n), 07777)}; }, never_k,
       [](const final_env& e) {
         EXPECT_TRUE(is_type(e.s.at("h2"), S_IFLNK));
         EXPECT_TRUE(same_inode(e.s.at("h2"), e.link));
         e.expect_target_intact();
         if (e.kind == target_kind::file) { EXPECT_EQ(lstat_of(e.target).st_mode & 07777, 0644u); }
       }},
      {"WriteFileViaHardlinkName",
       [](const std::string& n) { return std::vector{hardlink("h2", n), loaded(file("h2", "pwned"), 0600)}; },
       never_k,
       [](const final_env& e) {
         EXPECT_REGULAR_WITH(e.s.at("h2"), "pwned");
         EXPECT_TRUE(is_type(e.link, S_IFLNK));
         e.expect_target_intact();
       }},
      {"DirectoryViaHardlinkName",
       [](const std::string& n) { return std::vector{hardlink("h2", n), loaded(dir("h2/"), 0700)}; }, never_k,
       [](const final_env& e) {
         EXPECT_TRUE(is_type(e.s.at("h2"), S_IFDIR));
         EXPECT_TRUE(is_type(e.link, S_IFLNK));
         e.expect_target_intact();
       }},
      {"WriteThroughLink", [](const std::string& n) { return std::vector{file(n + "/x", "pwned")}; },
       [](target_kind kind) -> std::optional<errc> {
         if (kind == target_kind::file) return errc::malformed;  // a file is not a parent directory
         return std::nullopt;
       },
       [](const final_env& e) {
         EXPECT_REGULAR_WITH(e.target + "/x", "pwned");
         EXPECT_TRUE(is_type(e.link, S_IFLNK));
       }},
      {"WhiteoutOfLink", [](const std::string& n) { return std::vector{file(whiteout_of(n))}; }, never_k,
       [](const final_env& e) {
         // Whiteouts hide lower layers only: a link of the same layer stays.
         if (e.link_in_lower) {
           EXPECT_FALSE(path_exists(e.link));
         } else {
           EXPECT_TRUE(is_type(e.link, S_IFLNK));
         }
         e.expect_target_intact();
       }},
      {"WhiteoutBelowLink", [](const std::string& n) { return std::vector{file(n + "/.wh.inner")}; }, never_k,
       [](const final_env& e) {
         if (e.kind == target_kind::directory) { EXPECT_FALSE(path_exists(e.target + "/inner")); }
         if (e.kind == target_kind::file) EXPECT_REGULAR_WITH(e.target, "mirror victim");
         EXPECT_TRUE(is_type(e.link, S_IFLNK));
       }},
      {"OpaqueWhiteoutAtLink", [](const std::string& n) { return std::vector{file(n + "/.wh..wh..opq")}; },
       never_k,
       [](const final_env& e) {
         if (e.kind == target_kind::directory) { EXPECT_FALSE(path_exists(e.target + "/inner")); }
         if (e.kind == target_kind::file) EXPECT_REGULAR_WITH(e.target, "mirror victim");
         EXPECT_TRUE(is_type(e.link, S_IFLNK));
       }},
  };
  return v;
}

case_spec make_final_case(const escape_scratch& s, const final_vector& vec, const final_op& op) {
  const auto setup = vec.make(s);
  case_spec c;
  auto base = base_entries(std::nullopt);
  if (setup.kind == target_kind::file) base.push_back(file(setup.target, "mirror victim"));
  if (setup.kind == target_kind::directory) {
    if (!setup.target.empty()) base.push_back(dir(setup.target + "/"));
    base.push_back(file(join(setup.target, "inner"), "mirror inner"));
  }
  c.layers.push_back(layer(base));
  for (const auto& l : setup.lower) c.layers.push_back(layer(l));
  auto attack = setup.same;
  for (auto& e : op.entries(setup.link)) attack.push_back(std::move(e));
  c.layers.push_back(layer(attack));
  c.fails = op.fails(setup.kind);
  const final_env env{s, s.at(setup.link), s.at(setup.target), setup.kind, setup.link_in_lower};
  c.check = [env, check = op.check] { check(env); };
  return c;
}

using final_param = std::tuple<std::size_t, std::size_t, resolver>;

class UnpackEscapeFinalLink : public ::testing::TestWithParam<final_param> {};

TEST_P(UnpackEscapeFinalLink, ReplacesLinkNeverWritesThroughIt) {
  const auto [v, o, how] = GetParam();
  escape_scratch s;
  run_case(s, make_final_case(s, final_vectors()[v], final_ops()[o]), how);
}

INSTANTIATE_TEST_SUITE_P(
    , UnpackEscapeFinalLink,
    ::testing::Combine(::testing::Range<std::size_t>(0, final_vectors().size()),
                       ::testing::Range<std::size_t>(0, final_ops().size()),
                       ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
    [](const ::testing::TestParamInfo<final_param>& info) {
      return std::string(final_vectors()[std::get<0>(info.param)].name) + "_" +
             final_ops()[std::get<1>(info.param)].name + "_" + resolver_name(std::get<2>(info.param));
    });

// ==== Single cases: the root, whiteout names, hand-made headers ====

struct named_case {
  const char* name;
  case_spec (*make)(const escape_scratch& s);
};

using named_param = std::tuple<std::size_t, resolver>;

std::string named_case_name(const std::vector<named_case>& cases, const ::testing::TestParamInfo<named_param>& info) {
  return std::string(cases[std::get<0>(info.param)].name) + "_" + resolver_name(std::get<1>(info.param));
}

case_spec refused(std::vector<layer_spec> layers, errc code = errc::unsafe_path) {
  return case_spec{std::move(layers), code, {}};
}

// ---- the rootfs root ----

/// An entry for the root of type `e`, under each spelling of the root, then an ordinary
/// write in the next layer.
case_spec root_entry_case(const escape_scratch&, tar_spec_entry e) {
  return refused({layer(base_entries(std::nullopt)), layer({e}), layer({dir("etc/"), file("etc/evil", "evil")})});
}

case_spec root_dir_case(const escape_scratch& s, const std::string& name, std::uint32_t mode, std::uint32_t owner) {
  auto d = dir(name, mode);
  d.uid = owner;
  d.gid = owner;
  d.xattrs = {{"user.pwn", "1"}};
  case_spec c;
  c.layers = {layer(base_entries(std::nullopt)), layer({d, file("after", "after")}),
              layer({d, dir("etc/"), file("etc/later", "later")})};
  c.check = [&s, mode, owner] {
    const auto st = lstat_of(s.rootfs);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, mode);
    if (owners_applied()) { EXPECT_EQ(st.st_uid, owner); }
    EXPECT_REGULAR_WITH(s.at("after"), "after");
    EXPECT_REGULAR_WITH(s.at("etc/later"), "later");
  };
  return c;
}

const std::vector<named_case>& root_cases() {
  static const std::vector<named_case> v = {
      {"DotSymlinkToOutside", [](const escape_scratch& s) { return root_entry_case(s, symlink(".", s.dir + "/outside")); }},
      {"DotSlashSymlinkToOutside",
       [](const escape_scratch& s) { return root_entry_case(s, symlink("./", s.dir + "/outside")); }},
      {"SlashSymlinkToOutside", [](const escape_scratch& s) { return root_entry_case(s, symlink("/", s.dir + "/outside")); }},
      {"SlashDotSymlinkToOutside",
       [](const escape_scratch& s) { return root_entry_case(s, symlink("/.", s.dir + "/outside")); }},
      {"DoubleSlashSymlinkToOutside",
       [](const escape_scratch& s) { return root_entry_case(s, symlink("//", s.dir + "/outside")); }},
      {"DirDotDotSymlinkToOutside",
       [](const escape_scratch& s) { return root_entry_case(s, symlink("etc/..", s.dir + "/outside")); }},
      {"DotSlashDotSymlinkToParent", [](const escape_scratch& s) { return root_entry_case(s, symlink("./.", "..")); }},
      {"DotSymlinkToSlash", [](const escape_scratch& s) { return root_entry_case(s, symlink(".", "/")); }},
      {"DotRegularFile", [](const escape_scratch& s) { return root_entry_case(s, file(".", "pwned")); }},
      {"SlashHardlink", [](const escape_scratch& s) { return root_entry_case(s, hardlink("/", "inside.txt")); }},
      {"DotFifo", [](const escape_scratch& s) { return root_entry_case(s, fifo("./")); }},
      {"DotCharDevice", [](const escape_scratch& s) { return root_entry_case(s, char_device(".", 1, 3)); }},
      {"HardlinkToDot", [](const escape_scratch& s) { return root_entry_case(s, hardlink("h", ".")); }},
      {"HardlinkToSlash", [](const escape_scratch& s) { return root_entry_case(s, hardlink("h", "/")); }},
      {"HardlinkToDirDotDot", [](const escape_scratch& s) { return root_entry_case(s, hardlink("h", "etc/..")); }},
      {"HardlinkToDotDot", [](const escape_scratch& s) { return root_entry_case(s, hardlink("h", "..")); }},
      {"HardlinkToOutsideVictim",
       [](const escape_scratch& s) { return root_entry_case(s, hardlink("h", "../outside/victim")); }},
      {"DirectoryDotModeZero", [](const escape_scratch& s) { return root_dir_case(s, ".", 0, 0); }},
      {"DirectoryDotSlashAllBits", [](const escape_scratch& s) { return root_dir_case(s, "./", 07777, 0); }},
      {"DirectorySlashStickyOtherOwner",
       [](const escape_scratch& s) { return root_dir_case(s, "/", 01777, attack_owner); }},
      {"DirectorySlashDotOwnerOnly", [](const escape_scratch& s) { return root_dir_case(s, "/.", 0700, decoy_owner); }},
      {"DirectoryDirDotDotReadOnly", [](const escape_scratch& s) { return root_dir_case(s, "etc/..", 0555, 0); }},
      {"DirectoryDoubleSlashSetgid", [](const escape_scratch& s) { return root_dir_case(s, "//", 02311, 1); }},
  };
  return v;
}

class UnpackEscapeRoot : public ::testing::TestWithParam<named_param> {};

TEST_P(UnpackEscapeRoot, RootStaysADirectoryInPlace) {
  const auto [i, how] = GetParam();
  escape_scratch s;
  run_case(s, root_cases()[i].make(s), how);
}

INSTANTIATE_TEST_SUITE_P(, UnpackEscapeRoot,
                         ::testing::Combine(::testing::Range<std::size_t>(0, root_cases().size()),
                                            ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
                         [](const ::testing::TestParamInfo<named_param>& info) {
                           return named_case_name(root_cases(), info);
                         });

// ---- whiteout names ----

/// L1 plants pwn -> SCRATCH/outside/dir and the decoys' copy where it re-roots; the next
/// layer carries `e`.
case_spec whiteout_case(const escape_scratch& s, tar_spec_entry e, std::optional<errc> fails,
                        std::function<void()> check = {}) {
  const std::string lands = s.rel + "/outside";
  case_spec c;
  c.layers = {layer(base_entries(lands)), layer({symlink("pwn", s.dir + "/outside/dir"), dir("wd/"),
                                                 file("wd/f", "f")}),
              layer({e})};
  c.fails = fails;
  c.check = std::move(check);
  return c;
}

const std::vector<named_case>& whiteout_cases() {
  static const std::vector<named_case> v = {
      {"EmptyName", [](const escape_scratch& s) { return whiteout_case(s, file(".wh."), errc::unsafe_path); }},
      {"EmptyNameInDirectory",
       [](const escape_scratch& s) { return whiteout_case(s, file("wd/.wh."), errc::unsafe_path); }},
      {"EmptyNameBelowSymlink",
       [](const escape_scratch& s) { return whiteout_case(s, file("pwn/.wh."), errc::unsafe_path); }},
      {"OfDot", [](const escape_scratch& s) { return whiteout_case(s, file(".wh.."), errc::unsafe_path); }},
      {"OfDotInDirectory", [](const escape_scratch& s) { return whiteout_case(s, file("wd/.wh.."), errc::unsafe_path); }},
      {"OfDotBelowSymlink",
       [](const escape_scratch& s) { return whiteout_case(s, file("pwn/.wh.."), errc::unsafe_path); }},
      {"OfDotDot", [](const escape_scratch& s) { return whiteout_case(s, file(".wh..."), errc::unsafe_path); }},
      {"OfDotDotInDirectory",
       [](const escape_scratch& s) { return whiteout_case(s, file("wd/.wh..."), errc::unsafe_path); }},
      {"OfDotDotBelowSymlink",
       [](const escape_scratch& s) { return whiteout_case(s, file("pwn/.wh..."), errc::unsafe_path); }},
      {"OfDotDotAsHardlink",
       [](const escape_scratch& s) { return whiteout_case(s, hardlink("pwn/.wh...", "inside.txt"), errc::unsafe_path); }},
      {"OfDotDotAsDirectory",
       [](const escape_scratch& s) { return whiteout_case(s, dir("pwn/.wh.../"), errc::unsafe_path); }},
      {"NameUsedAsDirectory",
       [](const escape_scratch& s) { return whiteout_case(s, file("pwn/.wh.x/y"), errc::unsafe_path); }},
      {"DotDotNameOfWhiteout",
       [](const escape_scratch& s) { return whiteout_case(s, file("../outside/.wh.victim"), errc::unsafe_path); }},
      {"DotDotNameOfOpaqueWhiteout",
       [](const escape_scratch& s) { return whiteout_case(s, file("../outside/dir/.wh..wh..opq"), errc::unsafe_path); }},
      // Known by name whatever the type flag (B11): through the symlink, re-rooted.
      {"AsDirectoryBelowSymlink",
       [](const escape_scratch& s) {
         return whiteout_case(s, dir("pwn/.wh.inner/"), std::nullopt, [&s] {
           EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/inner")));
           EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/.wh.inner")));
         });
       }},
      {"AsSymlinkBelowSymlink",
       [](const escape_scratch& s) {
         return whiteout_case(s, symlink("pwn/.wh.inner", "/"), std::nullopt,
                              [&s] { EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/inner"))); });
       }},
      {"AsHardlinkBelowSymlink",
       [](const escape_scratch& s) {
         return whiteout_case(s, hardlink("pwn/.wh.inner", "inside.txt"), std::nullopt, [&s] {
           EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/inner")));
           EXPECT_EQ(lstat_of(s.at("inside.txt")).st_nlink, 1u);
         });
       }},
      {"AsFifoBelowSymlink",
       [](const escape_scratch& s) {
         return whiteout_case(s, fifo("pwn/.wh.inner"), std::nullopt,
                              [&s] { EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/inner"))); });
       }},
      {"OpaqueAsDirectoryBelowSymlink",
       [](const escape_scratch& s) {
         return whiteout_case(s, dir("pwn/.wh..wh..opq/"), std::nullopt, [&s] {
           EXPECT_EQ(names_in(s.at(s.rel + "/outside/dir")), std::vector<std::string>{});
         });
       }},
      {"OfSymlinkToOutsideDirectoryRemovesOnlyTheLink",
       [](const escape_scratch& s) {
         return whiteout_case(s, file(".wh.pwn"), std::nullopt, [&s] {
           EXPECT_FALSE(path_exists(s.at("pwn")));
           EXPECT_REGULAR_WITH(s.at(s.rel + "/outside/dir/inner"), "mirror inner");
         });
       }},
      {"OpaqueAtRootRemovesLinksNotTargets",
       [](const escape_scratch& s) {
         return whiteout_case(s, file(".wh..wh..opq"), std::nullopt,
                              [&s] { EXPECT_EQ(names_in(s.rootfs), std::vector<std::string>{}); });
       }},
      // Whiteouts hide lower layers only (B01, B02), also when the whiteout or the layer's own
      // entry reaches the directory through a symlink: "keep" must be decided on the directory
      // the path resolves to, not on the spelling.
      {"OpaqueViaSymlinkKeepsSameLayerEntry",
       [](const escape_scratch& s) {
         case_spec c;
         c.layers = {layer({dir("real/"), file("real/old", "old"), symlink("alias", "real")}),
                     layer({file("real/new", "new"), file("alias/.wh..wh..opq")})};
         c.check = [&s] {
           EXPECT_REGULAR_WITH(s.at("real/new"), "new");
           EXPECT_FALSE(path_exists(s.at("real/old")));
         };
         return c;
       }},
      {"OpaqueKeepsSameLayerEntryWrittenViaSymlink",
       [](const escape_scratch& s) {
         case_spec c;
         c.layers = {layer({dir("real/"), file("real/old", "old"), symlink("alias", "real")}),
                     layer({file("alias/new", "new"), file("real/.wh..wh..opq")})};
         c.check = [&s] {
           EXPECT_REGULAR_WITH(s.at("real/new"), "new");
           EXPECT_FALSE(path_exists(s.at("real/old")));
         };
         return c;
       }},
      {"WhiteoutViaSymlinkKeepsSameLayerEntry",
       [](const escape_scratch& s) {
         case_spec c;
         c.layers = {layer({dir("real/"), file("real/new", "lower"), symlink("alias", "real")}),
                     layer({file("real/new", "upper"), file("alias/.wh.new")})};
         c.check = [&s] { EXPECT_REGULAR_WITH(s.at("real/new"), "upper"); };
         return c;
       }},
      {"AufsReservedNameBelowSymlinkSkipped",
       [](const escape_scratch& s) {
         return whiteout_case(s, file("pwn/.wh..wh.plnk/123", "x"), std::nullopt, [&s] {
           EXPECT_FALSE(path_exists(s.at(s.rel + "/outside/dir/.wh..wh.plnk")));
           EXPECT_REGULAR_WITH(s.at(s.rel + "/outside/dir/inner"), "mirror inner");
         });
       }},
  };
  return v;
}

class UnpackEscapeWhiteout : public ::testing::TestWithParam<named_param> {};

TEST_P(UnpackEscapeWhiteout, NeverDeletesOutside) {
  const auto [i, how] = GetParam();
  escape_scratch s;
  run_case(s, whiteout_cases()[i].make(s), how);
}

INSTANTIATE_TEST_SUITE_P(, UnpackEscapeWhiteout,
                         ::testing::Combine(::testing::Range<std::size_t>(0, whiteout_cases().size()),
                                            ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
                         [](const ::testing::TestParamInfo<named_param>& info) {
                           return named_case_name(whiteout_cases(), info);
                         });

// ---- entry names of every type that climb, and names re-rooted ----

case_spec name_case(tar_spec_entry e) {
  return refused({layer(base_entries(std::nullopt)), layer({e})});
}

case_spec rerooted_case(const escape_scratch& s, tar_spec_entry e, std::string lands) {
  case_spec c;
  c.layers = {layer(base_entries(std::nullopt)), layer({e})};
  c.check = [&s, lands] { EXPECT_REGULAR_WITH(s.at(lands), "pwned"); };
  return c;
}

const std::vector<named_case>& name_cases() {
  static const std::vector<named_case> v = {
      {"DotDotFile", [](const escape_scratch&) { return name_case(file("../x", "pwned")); }},
      {"DotDotDirectory", [](const escape_scratch&) { return name_case(dir("../newdir/")); }},
      {"DotDotItself", [](const escape_scratch&) { return name_case(dir("..")); }},
      {"DotDotSlash", [](const escape_scratch&) { return name_case(dir("../")); }},
      {"DotDotFifo", [](const escape_scratch&) { return name_case(fifo("../fifo")); }},
      {"DotDotCharDevice", [](const escape_scratch&) { return name_case(char_device("../null", 1, 3)); }},
      {"DotDotSymlink", [](const escape_scratch&) { return name_case(symlink("../sl", "/")); }},
      {"DotDotHardlink", [](const escape_scratch&) { return name_case(hardlink("../hl", "inside.txt")); }},
      {"DotDotDirectoryOverSibling", [](const escape_scratch&) { return name_case(loaded(dir("../x"), 0777)); }},
      {"InnerDotDotFile", [](const escape_scratch&) { return name_case(file("a/../../x", "pwned")); }},
      {"DotSlashDotDotFile", [](const escape_scratch&) { return name_case(file("./../x", "pwned")); }},
      {"SlashDotDotFile", [](const escape_scratch&) { return name_case(file("/../x", "pwned")); }},
      {"ClimbOutAndBackIn", [](const escape_scratch&) { return name_case(file("../rootfs/x", "pwned")); }},
      {"DirectoryThenTwoDotDots", [](const escape_scratch&) { return name_case(dir("etc/../..")); }},
      {"AbsoluteFileIsReRooted",
       [](const escape_scratch& s) { return rerooted_case(s, file("/x", "pwned"), "x"); }},
      {"DoubleSlashFileIsReRooted",
       [](const escape_scratch& s) { return rerooted_case(s, file("//x", "pwned"), "x"); }},
      {"AbsoluteScratchPathIsReRooted",
       [](const escape_scratch& s) { return rerooted_case(s, file(s.dir + "/x", "pwned"), s.rel + "/x"); }},
      {"DotDotThatStaysInsideIsCleaned",
       [](const escape_scratch& s) { return rerooted_case(s, file("etc/../x", "pwned"), "x"); }},
      {"SymlinkLoopRefused",
       [](const escape_scratch&) {
         return refused({layer(base_entries(std::nullopt)),
                         layer({symlink("a", "b"), symlink("b", "a"), file("a/x", "pwned")})});
       }},
      {"SymlinkSelfLoopRefused",
       [](const escape_scratch&) {
         return refused({layer(base_entries(std::nullopt)), layer({symlink("a", "a"), file("a/x", "pwned")})});
       }},
  };
  return v;
}

class UnpackEscapeName : public ::testing::TestWithParam<named_param> {};

TEST_P(UnpackEscapeName, ClimbingNamesRefusedAbsoluteReRooted) {
  const auto [i, how] = GetParam();
  escape_scratch s;
  run_case(s, name_cases()[i].make(s), how);
}

INSTANTIATE_TEST_SUITE_P(, UnpackEscapeName,
                         ::testing::Combine(::testing::Range<std::size_t>(0, name_cases().size()),
                                            ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
                         [](const ::testing::TestParamInfo<named_param>& info) {
                           return named_case_name(name_cases(), info);
                         });

// ---- one directory under two names: a later entry through a symlink sets its metadata ----

/// L1: dir real/ and real/d/ (mode 0555, default mtime); L2: alias -> real, then a directory
/// entry for alias/d with the attack mtime, mode 0700 and xattr. The entry applied last wins,
/// whichever name sorts first (and rootless, where modes wait for the end, too).
case_spec alias_case(const escape_scratch& s, const std::string& real, const std::string& alias) {
  case_spec c;
  c.layers = {layer({dir(real + "/"), dir(real + "/d/", 0555), file(real + "/d/f", "f")}),
              layer({symlink(alias, real), loaded(dir(alias + "/d/"), 0700)})};
  c.check = [&s, real] {
    const auto st = lstat_of(s.at(real + "/d"));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(st.st_mtim.tv_sec, attack_mtime) << "the lower layer's mtime won over the later entry's";
    EXPECT_EQ(xattr_of(s.at(real + "/d"), "user.pwn"), "1");
    EXPECT_REGULAR_WITH(s.at(real + "/d/f"), "f");
  };
  return c;
}

const std::vector<named_case>& alias_cases() {
  static const std::vector<named_case> v = {
      {"AliasSortsBeforeReal", [](const escape_scratch& s) { return alias_case(s, "real", "alias"); }},
      {"AliasSortsAfterReal", [](const escape_scratch& s) { return alias_case(s, "real", "zalias"); }},
      // The same name, another directory: a whited-out directory's deferred metadata must not
      // land on the implicit directory a later layer makes in its place.
      {"RecreatedDirectoryTakesNoStaleMetadata",
       [](const escape_scratch& s) {
         case_spec c;
         c.layers = {layer({dir("d/", 0555), file("d/old", "old")}), layer({file(".wh.d"), file("d/new", "new")})};
         c.check = [&s] {
           EXPECT_EQ(lstat_of(s.at("d")).st_mode & 07777, 0755u) << "an implicit parent is 0755";
           EXPECT_EQ(names_in(s.at("d")), std::vector<std::string>{"new"});
         };
         return c;
       }},
  };
  return v;
}

class UnpackEscapeAlias : public ::testing::TestWithParam<named_param> {};

TEST_P(UnpackEscapeAlias, DirectoryMetadataComesFromTheLastEntryForIt) {
  const auto [i, how] = GetParam();
  escape_scratch s;
  run_case(s, alias_cases()[i].make(s), how);
}

INSTANTIATE_TEST_SUITE_P(, UnpackEscapeAlias,
                         ::testing::Combine(::testing::Range<std::size_t>(0, alias_cases().size()),
                                            ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
                         [](const ::testing::TestParamInfo<named_param>& info) {
                           return named_case_name(alias_cases(), info);
                         });

// ---- hand-made headers: the name a reader takes from PAX, GNU or ustar prefix ----

/// A header with `linkname` (offset 157) and/or `prefix` (offset 345) set, checksum fixed.
std::string header_with(header_spec spec, const std::string& linkname = {}, const std::string& prefix = {}) {
  std::string h = tar_header(spec);
  std::memcpy(h.data() + 157, linkname.data(), std::min<std::size_t>(linkname.size(), 100));
  std::memcpy(h.data() + 345, prefix.data(), std::min<std::size_t>(prefix.size(), 155));
  fix_tar_checksum(h, 0);
  return h;
}

std::string pax_file(const std::string& pax_path, const std::string& ustar_name, const std::string& data) {
  return pax_header(ustar_name, pax_record("path", pax_path)) + tar_file(ustar_name, data);
}

std::string gnu_long(char type, const std::string& value) {
  return tar_header({"././@LongLink", value.size() + 1, type, true}) + pad512(value + std::string(1, '\0'));
}

/// The base layer (with the decoys' copy at the re-rooted SCRATCH/outside), an optional
/// layer planting pwn -> SCRATCH/outside, then the hand-made `tar`.
case_spec header_case(const escape_scratch& s, const std::string& tar, std::optional<errc> fails,
                      std::function<void()> check = {}, bool plant_symlink = false) {
  case_spec c;
  c.layers.push_back(layer(base_entries(s.rel + "/outside")));
  if (plant_symlink) c.layers.push_back(layer({symlink("pwn", s.dir + "/outside")}));
  c.layers.push_back(raw_layer(finish_tar(tar), layer_compression::none));
  c.fails = fails;
  c.check = std::move(check);
  return c;
}

const std::vector<named_case>& header_cases() {
  static const std::vector<named_case> v = {
      {"PaxPathDotDot",
       [](const escape_scratch& s) {
         return header_case(s, pax_file("../outside/victim", "innocent", "pwned"), errc::unsafe_path);
       }},
      {"PaxPathInnerDotDot",
       [](const escape_scratch& s) {
         return header_case(s, pax_file("a/../../outside/victim", "innocent", "pwned"), errc::unsafe_path);
       }},
      {"PaxPathDotDotDirectory",
       [](const escape_scratch& s) {
         return header_case(s,
                            pax_header("innocent", pax_record("path", "../outside/dir/")) +
                                tar_header({"innocent/", 0, '5'}),
                            errc::unsafe_path);
       }},
      {"PaxPathAbsoluteIsReRooted",
       [](const escape_scratch& s) {
         return header_case(s, pax_file(s.dir + "/outside/victim", "innocent", "pwned"), std::nullopt, [&s] {
           EXPECT_REGULAR_WITH(s.at(s.rel + "/outside/victim"), "pwned");
           EXPECT_FALSE(path_exists(s.at("innocent")));
         });
       }},
      {"PaxPathThroughPlantedSymlink",
       [](const escape_scratch& s) {
         return header_case(
             s, pax_file("pwn/victim", "innocent", "pwned"), std::nullopt,
             [&s] { EXPECT_REGULAR_WITH(s.at(s.rel + "/outside/victim"), "pwned"); }, true);
       }},
      {"SafePaxPathOverridesDotDotUstarName",
       [](const escape_scratch& s) {
         return header_case(s, pax_file("safe.txt", "../outside/victim", "pwned"), std::nullopt,
                            [&s] { EXPECT_REGULAR_WITH(s.at("safe.txt"), "pwned"); });
       }},
      {"PaxLinkpathDotDotHardlink",
       [](const escape_scratch& s) {
         return header_case(s,
                            pax_header("stolen", pax_record("linkpath", "../outside/victim")) +
                                header_with({"stolen", 0, '1'}, "inside.txt"),
                            errc::unsafe_path);
       }},
      {"PaxLinkpathThroughPlantedSymlinkHardlink",
       [](const escape_scratch& s) {
         return header_case(
             s,
             pax_header("stolen", pax_record("linkpath", "pwn/victim")) + header_with({"stolen", 0, '1'}, "inside.txt"),
             std::nullopt, [&s] { EXPECT_TRUE(same_inode(s.at("stolen"), s.at(s.rel + "/outside/victim"))); }, true);
       }},
      {"GnuLongNameDotDot",
       [](const escape_scratch& s) {
         return header_case(s, gnu_long('L', "../outside/victim") + tar_file("innocent", "pwned", true),
                            errc::unsafe_path);
       }},
      {"GnuLongNameLongDotDot",
       [](const escape_scratch& s) {
         const std::string name = repeat("a/", 60) + repeat("../", 61) + "outside/victim";
         return header_case(s, gnu_long('L', name) + tar_file("innocent", "pwned", true), errc::unsafe_path);
       }},
      {"GnuLongNameAbsoluteIsReRooted",
       [](const escape_scratch& s) {
         return header_case(s, gnu_long('L', s.dir + "/outside/victim") + tar_file("innocent", "pwned", true),
                            std::nullopt,
                            [&s] { EXPECT_REGULAR_WITH(s.at(s.rel + "/outside/victim"), "pwned"); });
       }},
      {"GnuLongLinkDotDotHardlink",
       [](const escape_scratch& s) {
         header_spec h{"stolen", 0, '1', true};
         return header_case(s, gnu_long('K', "../outside/victim") + header_with(h, "inside.txt"),
                            errc::unsafe_path);
       }},
      {"UstarPrefixDotDot",
       [](const escape_scratch& s) {
         const std::string data = "pwned";
         return header_case(s, header_with({"outside/victim", data.size(), '0'}, "", "..") + pad512(data),
                            errc::unsafe_path);
       }},
      {"UstarLinknameDotDotHardlink",
       [](const escape_scratch& s) {
         return header_case(s, header_with({"stolen", 0, '1'}, "../outside/victim"), errc::unsafe_path);
       }},
  };
  return v;
}

class UnpackEscapeHeader : public ::testing::TestWithParam<named_param> {};

TEST_P(UnpackEscapeHeader, NameFromEveryHeaderFormIsConfined) {
  const auto [i, how] = GetParam();
  escape_scratch s;
  run_case(s, header_cases()[i].make(s), how);
}

INSTANTIATE_TEST_SUITE_P(, UnpackEscapeHeader,
                         ::testing::Combine(::testing::Range<std::size_t>(0, header_cases().size()),
                                            ::testing::Values(resolver::openat2, resolver::component_walk, resolver::rootless)),
                         [](const ::testing::TestParamInfo<named_param>& info) {
                           return named_case_name(header_cases(), info);
                         });

// ---- the harness itself ----

// The snapshot sees what an escape would do: a write, a chmod, a chown, an xattr, a new
// hardlink to the victim, a deleted file, a new file.
TEST(UnpackEscapeHarness, SnapshotSeesEveryKindOfChange) {
  const std::vector<std::pair<const char*, void (*)(const escape_scratch&)>> changes = {
      {"write", [](const escape_scratch& s) { write_bytes(s.outside + "/victim", "host victim\n"); }},
      {"chmod", [](const escape_scratch& s) { ::chmod((s.outside + "/victim").c_str(), 0644); }},
      {"chown", [](const escape_scratch& s) { ::lchown((s.outside + "/dir").c_str(), decoy_owner, decoy_owner); }},
      {"xattr", [](const escape_scratch& s) { ::lsetxattr((s.outside + "/dir").c_str(), "user.pwn", "1", 1, 0); }},
      {"link", [](const escape_scratch& s) { ::link((s.outside + "/victim").c_str(), (s.dir + "/stolen").c_str()); }},
      {"unlink", [](const escape_scratch& s) { ::unlink((s.outside + "/dir/inner").c_str()); }},
      {"create", [](const escape_scratch& s) { write_bytes(s.dir + "/new", ""); }},
      {"mtime of a symlink",
       [](const escape_scratch& s) {
         const timespec t[2] = {{attack_mtime, 0}, {attack_mtime, 0}};
         ::utimensat(AT_FDCWD, (s.outside + "/victim-link").c_str(), t, AT_SYMLINK_NOFOLLOW);
       }},
  };
  for (const auto& [what, change] : changes) {
    SCOPED_TRACE(what);
    escape_scratch s;
    const auto before = take_snapshot(s.dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // ctime granularity
    change(s);
    EXPECT_NE(snapshot_differences(before, take_snapshot(s.dir)), "");
  }
  // ...and nothing inside rootfs/.
  escape_scratch s;
  const auto before = take_snapshot(s.dir);
  write_bytes(s.rootfs + "/anything", "x");
  EXPECT_EQ(snapshot_differences(before, take_snapshot(s.dir)), "");
}

// The component-walk runs really go without openat2: under the filter the syscall answers
// ENOSYS, so io/resolve_in_root.cpp falls back to its own walk.
TEST(UnpackEscapeHarness, SeccompFilterMakesOpenat2Unavailable) {
  if (!test_emulator().empty()) GTEST_SKIP() << test_emulator() << " installs no seccomp filter for its guest";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!forbid_openat2()) ::_exit(100);
    open_how how{};
    how.flags = O_PATH;
    const long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    ::_exit(fd < 0 && errno == ENOSYS ? 0 : 101);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "100: filter not installed; 101: openat2 still works";
}

}  // namespace
}  // namespace ocipipe::testing
