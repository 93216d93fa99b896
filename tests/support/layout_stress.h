#pragma once
// Crash-safety and concurrency trials of the layout-writing verbs (issue 10 items 3 and 4),
// run against the real binary: `ocipipe pull|pack|copy|tag|rm|gc` killed with SIGKILL at
// seeded random moments, then the layout judged (validate --all, tags old-or-new, every
// file a later run trusts checked), the command run again to completion; and two or four
// processes tagging, packing, pulling, removing and collecting garbage on one layout at once.
//
// The scenarios live here so the default suite (tests/interop, reduced counts) and the slow
// suite (tests/slow, the full counts) run the same code; the counts and the seed
// come from the environment so a failure can be replayed:
//   OCIPIPE_CRASH_TRIALS   trials per verb            (crash safety)
//   OCIPIPE_STRESS_ROUNDS  rounds per process count   (concurrency)
//   OCIPIPE_STRESS_SEED    the seed (printed by every run; default: random)
//
// Not part of ocipipe. Needs Debian's docker-registry (tests/support/registry_fixture.h)
// for pull. Failures are reported through GoogleTest (ADD_FAILURE) with the seed, the
// trial and the kill delay in the message.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ocipipe::testing {

/// `name`'s value in the environment as a positive count, else `fallback`.
[[nodiscard]] int stress_count(const char* name, int fallback);
/// OCIPIPE_STRESS_SEED when set, else a fresh random seed. Printed (with `what`) on stdout
/// so the run can be replayed.
[[nodiscard]] std::uint64_t stress_seed(const std::string& what);

/// A child process of the test: ocipipe with `args`, stdout and stderr to `log_path`, in its
/// own process group. Thread-safe.
[[nodiscard]] pid_t spawn_ocipipe(const std::vector<std::string>& args, const std::string& log_path);

/// How a spawned child ended.
struct child_end {
  bool killed = false;   ///< ended by our SIGKILL (it was still running at the deadline)
  int exit_code = -1;    ///< when it exited by itself
  int signal = 0;        ///< a signal that ended it other than our kill
  std::chrono::microseconds wall{0};  ///< spawn to reap
};
/// Waits `delay` after `started`, then SIGKILLs the child's process group (unless it has
/// exited already) and reaps it.
child_end kill_after(pid_t pid, std::chrono::steady_clock::time_point started, std::chrono::microseconds delay);
/// Reaps the child, waiting as long as it runs (a hang is caught by ctest's timeout).
child_end wait_child(pid_t pid, std::chrono::steady_clock::time_point started);

/// Tag (org.opencontainers.image.ref.name) -> manifest digest of index.json's entries;
/// untagged entries are listed as "@<digest>". `error` is set when index.json is missing,
/// unparsable, or names one tag twice with different digests.
std::map<std::string, std::string> layout_tags(const std::string& layout, std::string* error);

/// What a later run would trust, judged. "" when sound, else every fault, one a line:
/// - oci-layout and index.json are present and parse;
/// - every name under blobs/<alg>/ is a digest of that algorithm and the file's bytes hash
///   to it (a half-written blob under its final name is caught here, reachable or not);
/// - every `partial-<alg>-<hex>` file in .ocipipe-ingest/ (which pull continues from) holds
///   a prefix of that blob, looked up in `known_blob_dirs` (layouts holding the real blob);
/// - nothing else is at the layout's top level but .ocipipe-lock and .ocipipe-ingest/.
std::string layout_faults(const std::string& layout, const std::vector<std::string>& known_blob_dirs);

/// Every digest under blobs/ ("sha256:<hex>"), sorted.
std::vector<std::string> layout_blobs(const std::string& layout);

/// `from` copied to `to` (removed first), files and directories only.
void copy_layout(const std::string& from, const std::string& to);

/// The fixture every scenario shares, built once per test binary run: a registry holding
/// image C, the layouts, and the directory pack packs. All images are small (under 2 MiB),
/// so each trial takes tens of milliseconds.
class stress_fixture {
 public:
  /// Builds everything under a fresh temporary directory; nullptr (and a test failure) when
  /// the registry cannot start.
  static std::unique_ptr<stress_fixture> create();
  ~stress_fixture();

  /// A layout with images A (tag "a") and B (tag "b"), nothing else.
  [[nodiscard]] std::string two_image_layout() const;
  /// two_image_layout() plus garbage: the blobs of an untagged-then-removed image D, a
  /// stale named temporary blob and a stale index.json temporary in .ocipipe-ingest/, and a
  /// partial download of C's big layer (a true prefix).
  [[nodiscard]] std::string garbage_layout() const;
  /// A layout holding image C tagged "c" (the copy source).
  [[nodiscard]] std::string source_layout() const;
  /// docker://127.0.0.1:PORT/stress/c:v1 (the pull source, image C).
  [[nodiscard]] std::string registry_ref() const;
  /// The directory pack packs.
  [[nodiscard]] std::string pack_dir() const;
  /// Layouts whose blobs include every blob of A, B, C and D (for layout_faults).
  [[nodiscard]] std::vector<std::string> known_blob_dirs() const;
  [[nodiscard]] const std::string& digest_a() const { return digest_a_; }
  [[nodiscard]] const std::string& digest_b() const { return digest_b_; }
  [[nodiscard]] const std::string& digest_c() const { return digest_c_; }
  /// A scratch directory for the caller, removed with the fixture.
  [[nodiscard]] std::string scratch(const std::string& name) const;

 private:
  stress_fixture() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string digest_a_, digest_b_, digest_c_;
};

/// One verb of the crash-safety scenario.
enum class crash_verb { pull, pack, copy, tag, rm, gc };
[[nodiscard]] const char* crash_verb_name(crash_verb v);

/// Kills `ocipipe <verb>` with SIGKILL `trials` times, each after a seeded random delay in
/// 0..(its measured uncut duration), on a fresh copy of the verb's starting layout, and
/// checks after each: validate --all passes, every tag holds its old or its new value,
/// layout_faults() finds nothing, a kill that came too late found exit 0; then the same
/// command run again exits 0 and leaves exactly the tags (and, for gc and rm --blobs, the
/// blobs) an uncut run leaves. Prints the seed and how many trials were cut.
void run_crash_trials(const stress_fixture& fx, crash_verb verb, int trials, std::uint64_t seed);

/// `processes` workers act on one layout at once for `rounds` rounds: in each round every
/// worker starts one seeded random operation (tag, pack, pull, rm [--blobs], gc) at the
/// same moment, and the round ends when all have exited. Every operation must exit 0;
/// after every round index.json must hold exactly the tags the workers set and did not
/// remove, each with the digest it was set to (no tag lost, none resurrected); every 10th
/// round and the last, validate --all must pass and layout_faults() find nothing (so no
/// blob a manifest needs was collected). Prints the seed.
void run_concurrency_rounds(const stress_fixture& fx, int processes, int rounds, std::uint64_t seed);

/// A test suite sharing one stress_fixture (registry, images) among its tests:
/// crash() runs `Trials` kills of a verb and concurrent() `Rounds` rounds, unless
/// OCIPIPE_CRASH_TRIALS or OCIPIPE_STRESS_ROUNDS say otherwise; OCIPIPE_STRESS_SEED
/// replays a run. One fixture per instantiation (the interop and slow suites).
template <int Trials, int Rounds>
class layout_stress_suite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fx_ = stress_fixture::create().release(); }
  static void TearDownTestSuite() {
    delete fx_;
    fx_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fx_, nullptr) << "the stress fixture (registry, images) did not start"; }
  void crash(crash_verb v) {
    run_crash_trials(*fx_, v, stress_count("OCIPIPE_CRASH_TRIALS", Trials),
                     stress_seed(std::string("crash ") + crash_verb_name(v)));
  }
  void concurrent(int processes) {
    run_concurrency_rounds(*fx_, processes, stress_count("OCIPIPE_STRESS_ROUNDS", Rounds),
                           stress_seed(std::to_string(processes) + " processes"));
  }
  static inline stress_fixture* fx_ = nullptr;
};

}  // namespace ocipipe::testing
