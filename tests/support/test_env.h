#pragma once
// The environment tests run in: scratch directories, the dataset cache that datasets/build.sh
// fills, and running programs (build/ocipipe, umoci, runc) with their output captured.

#include <sys/stat.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ocipipe::testing {

/// A fresh directory "ocipipe-test-XXXXXX" under $TMPDIR (when set and non-empty) or /tmp,
/// removed with everything below it when the object is destroyed (symlinks inside are
/// removed, never followed; a failed removal is reported as a non-fatal test failure).
/// Move-only. Throws std::runtime_error when mkdtemp fails, which GoogleTest reports as a
/// failure of the test that asked for it.
class temp_dir {
 public:
  /// `prefix` names the directory: "<prefix>-XXXXXX".
  explicit temp_dir(const std::string& prefix = "ocipipe-test");
  ~temp_dir();
  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&& other) noexcept;
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Absolute path of the directory.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// path() + "/" + `rel`; creates nothing.
  [[nodiscard]] std::string sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// Removes `path` and everything below it without following symlinks; directories made
/// unwritable are made writable first. Returns "" on success or a description of the first
/// failure. A missing `path` is success.
std::string remove_tree(const std::string& path);

/// Names in directory `dir`, sorted, without "." and ".."; empty when it does not exist.
[[nodiscard]] std::vector<std::string> names_in(const std::string& dir);
/// True when something (anything, a dangling symlink too) exists at `path`.
[[nodiscard]] bool path_exists(const std::string& path);
/// Binds a Unix socket at `path` (shorter than sun_path) and closes it: the socket
/// file stays. Throws std::runtime_error on failure.
void make_unix_socket(const std::string& path);
/// lstat of `path` (a symlink itself); a failure is a test failure (ADD_FAILURE) and gives
/// a zeroed struct, whose st_mode 0 matches no file type.
[[nodiscard]] struct stat lstat_of(const std::string& path);
/// Name -> value of every xattr of `path` (not following a symlink), in name order. A
/// failure to list them shows as the name "<llistxattr>" with the error as its value, and
/// one to read a value as that value "<lgetxattr: error>", so neither passes for "none".
[[nodiscard]] std::map<std::string, std::string> xattrs_of(const std::string& path);

// ---- files and text ----

/// The bytes of the file at `path`; "" when it cannot be opened (the caller's comparison fails).
[[nodiscard]] std::string read_bytes(const std::string& path);
/// Writes `bytes` to `path` (created or truncated); throws std::runtime_error when that fails.
void write_bytes(const std::string& path, const std::string& bytes);
/// True when `part` occurs in `s`.
[[nodiscard]] bool contains(const std::string& s, const std::string& part);
/// The non-empty lines of `text`, in order, without their newlines.
[[nodiscard]] std::vector<std::string> lines_of(const std::string& text);

/// The dataset cache: $XDG_CACHE_HOME/ocipipe when XDG_CACHE_HOME is set and non-empty, else
/// $HOME/.cache/ocipipe (the same rule as datasets/build.sh's `${XDG_CACHE_HOME:-$HOME/.cache}`).
[[nodiscard]] std::string dataset_cache_dir();

/// The image layout of dataset `name` ("debian-slim"): dataset_cache_dir()/layouts/<name>.
[[nodiscard]] std::string dataset_layout(const std::string& name);

/// The reference of dataset `name` as ocipipe and skopeo spell it:
/// "oci:<dataset_layout(name)>:<name>" (each layout holds one tag, equal to its name).
[[nodiscard]] std::string dataset_ref(const std::string& name);

/// A file under dataset_cache_dir()/archives ("debian-slim.oci-archive.tar").
[[nodiscard]] std::string dataset_archive(const std::string& file_name);

/// Success when dataset `name` has been built (its layout holds oci-layout and index.json);
/// otherwise a failure whose message says to run datasets/build.sh. A missing dataset FAILS
/// the test (it is not skipped), so use it as
///   ASSERT_TRUE(require_dataset("debian-slim"));
/// or through OCIPIPE_REQUIRE_DATASET.
[[nodiscard]] ::testing::AssertionResult require_dataset(const std::string& name);

/// Fails the current test and returns from it when dataset `name` is missing.
#define OCIPIPE_REQUIRE_DATASET(name) ASSERT_TRUE(::ocipipe::testing::require_dataset(name))

/// Path of the ocipipe binary under test (build/ocipipe; OCIPIPE_BINARY from CMake).
[[nodiscard]] std::string ocipipe_binary();

/// The repository root (OCIPIPE_SOURCE_DIR from CMake).
[[nodiscard]] std::string source_dir();

struct run_options {
  /// File opened as the child's stdin; "/dev/null" by default, so nothing waits on a terminal.
  std::string stdin_path = "/dev/null";
  /// Working directory of the child; "" keeps ours.
  std::string cwd;
  /// The child (and its process group) is killed with SIGKILL after this long; zero means
  /// never. The result then has timed_out set.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
};

struct command_result {
  int exit_code = -1;    ///< exit status when the child exited normally, else -1
  int term_signal = 0;   ///< the signal that killed it, else 0
  bool timed_out = false;
  std::string out;       ///< everything written to stdout
  std::string err;       ///< everything written to stderr; spawn failures are described here

  /// True when the child exited with status 0.
  [[nodiscard]] bool ok() const noexcept { return exit_code == 0 && term_signal == 0; }
  /// "exit 2" / "killed by signal 9" / "timed out", then stderr (and stdout if non-empty),
  /// for assertion messages.
  [[nodiscard]] std::string describe() const;
};

/// Runs argv[0] (looked up in PATH when it has no "/") with `argv`, in its own process group,
/// stdout and stderr captured through pipes, and waits for it. Never throws for a failure of
/// the child: a program that cannot be started gives exit_code 127 and the reason in `err`.
/// Thread-safe; blocks the calling thread until the child ends or the timeout kills it.
command_result run_command(const std::vector<std::string>& argv, const run_options& opts = {});

/// run_command with ocipipe_binary() as argv[0], followed by `args`.
command_result run_ocipipe(const std::vector<std::string>& args, const run_options& opts = {});

/// The command line shell-quoted, for messages: "umoci unpack --image '/a b:t' x".
[[nodiscard]] std::string format_command(const std::vector<std::string>& argv);

}  // namespace ocipipe::testing
