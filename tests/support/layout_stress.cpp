#include "tests/support/layout_stress.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/image_builder.h"
#include "tests/support/registry_fixture.h"
#include "stages/digester.h"
#include "tests/support/test_env.h"

extern char** environ;

namespace ocipipe::testing {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using std::chrono::microseconds;

namespace {

// Deterministic incompressible bytes: the images are the same in every run, only the kill
// moments depend on the seed.
std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

std::string describe_tags(const std::map<std::string, std::string>& tags) {
  std::string s = "{";
  for (const auto& [t, d] : tags) s += " " + t + "=" + d.substr(0, 19);
  return s + " }";
}

// Runs `args` to completion; a failure is a test failure naming the command.
command_result must_run(const std::vector<std::string>& args) {
  auto r = run_ocipipe(args);
  if (!r.ok()) ADD_FAILURE() << format_command(args) << ": " << r.describe();
  return r;
}

bool is_hex(const std::string& s, std::size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::size_t hex_len(const std::string& alg) {
  if (alg == "sha256") return 64;
  if (alg == "sha512") return 128;
  return 0;
}

std::string digest_of_file(const std::string& alg, const std::string& bytes) {
  const auto a = alg == "sha512" ? digest_algorithm::sha512 : digest_algorithm::sha256;
  return digester::of(std::as_bytes(std::span(bytes.data(), bytes.size())), a).str();
}

std::string validate_all(const std::string& layout) {
  auto r = run_ocipipe({"validate", "--all", "oci:" + layout});
  return r.ok() ? "" : "validate --all: " + r.describe();
}

std::string last_lines(const std::string& path, std::size_t max_bytes = 2000) {
  std::string s = read_bytes(path);
  return s.size() > max_bytes ? "…" + s.substr(s.size() - max_bytes) : s;
}

}  // namespace

int stress_count(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (end && *end == '\0' && n > 0 && n < 1000000) ? static_cast<int>(n) : fallback;
}

std::uint64_t stress_seed(const std::string& what) {
  std::uint64_t seed = 0;
  const char* v = std::getenv("OCIPIPE_STRESS_SEED");
  if (v && *v) {
    seed = std::strtoull(v, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
  }
  std::cout << "[ seed     ] " << what << ": OCIPIPE_STRESS_SEED=" << seed << " replays this run" << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

pid_t spawn_ocipipe(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv{ocipipe_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ADD_FAILURE() << "spawn " << format_command(argv) << ": " << std::strerror(rc);
    return -1;
  }
  return pid;
}

namespace {
child_end reap(pid_t pid, clock_type::time_point started, bool we_killed) {
  child_end e;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return e;
    }
  e.wall = std::chrono::duration_cast<microseconds>(clock_type::now() - started);
  if (WIFEXITED(status)) {
    e.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    if (we_killed && WTERMSIG(status) == SIGKILL)
      e.killed = true;
    else
      e.signal = WTERMSIG(status);
  }
  return e;
}
}  // namespace

child_end kill_after(pid_t pid, clock_type::time_point started, microseconds delay) {
  if (pid <= 0) return {};
  const auto deadline = started + delay;
  // Sleep to the deadline unless the child ends first (WNOHANG polls would add their own
  // latency; nanosleep to an absolute time does not drift).
  timespec ts{};
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
  // A child that has exited already is a zombie until reaped: the kill cannot hit anything
  // else, and reap() tells an exit from our kill.
  ::kill(-pid, SIGKILL);
  return reap(pid, started, true);
}

child_end wait_child(pid_t pid, clock_type::time_point started) {
  if (pid <= 0) return {};
  return reap(pid, started, false);
}

std::map<std::string, std::string> layout_tags(const std::string& layout, std::string* error) {
  std::map<std::string, std::string> out;
  const std::string text = read_bytes(layout + "/index.json");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
    if (error) *error = "index.json unreadable or torn: " + text.substr(0, 200);
    return out;
  }
  for (const auto& m : j["manifests"]) {
    const std::string d = m.value("digest", "");
    std::string tag;
    if (m.contains("annotations") && m["annotations"].is_object())
      tag = m["annotations"].value("org.opencontainers.image.ref.name", "");
    if (tag.empty()) tag = "@" + d;
    auto [it, fresh] = out.emplace(tag, d);
    if (!fresh && it->second != d && error) *error = "tag " + tag + " names two digests";
  }
  return out;
}

std::vector<std::string> layout_blobs(const std::string& layout) {
  std::vector<std::string> out;
  for (const auto& alg : names_in(layout + "/blobs"))
    for (const auto& n : names_in(layout + "/blobs/" + alg)) out.push_back(alg + ":" + n);
  std::sort(out.begin(), out.end());
  return out;
}

std::string layout_faults(const std::string& layout, const std::vector<std::string>& known_blob_dirs) {
  std::vector<std::string> faults;
  if (read_bytes(layout + "/oci-layout").find("imageLayoutVersion") == std::string::npos)
    faults.push_back("oci-layout missing or torn");
  std::string err;
  (void)layout_tags(layout, &err);
  if (!err.empty()) faults.push_back(err);
  for (const auto& n : names_in(layout)) {
    if (n == "oci-layout" || n == "index.json" || n == "blobs" || n == ".ocipipe-lock" || n == ".ocipipe-ingest")
      continue;
    faults.push_back("stray file at the layout's top level: " + n);
  }
  for (const auto& alg : names_in(layout + "/blobs")) {
    const std::string dir = layout + "/blobs/" + alg;
    for (const auto& n : names_in(dir)) {
      if (!is_hex(n, hex_len(alg))) {
        faults.push_back("blobs/" + alg + "/" + n + ": not a digest name (a temporary under blobs/)");
        continue;
      }
      const auto st = lstat_of(dir + "/" + n);
      if (!S_ISREG(st.st_mode)) {
        faults.push_back("blobs/" + alg + "/" + n + ": not a regular file");
        continue;
      }
      const std::string got = digest_of_file(alg, read_bytes(dir + "/" + n));
      if (got != alg + ":" + n)
        faults.push_back("blobs/" + alg + "/" + n + ": content hashes to " + got + " (" +
                         std::to_string(st.st_size) + " bytes): a torn blob under its final name");
    }
  }
  const std::string ingest = layout + "/.ocipipe-ingest";
  for (const auto& n : names_in(ingest)) {
    if (n.rfind("partial-", 0) != 0) continue;  // never read by anyone; gc removes it
    // partial-<alg>-<hex>: pull appends to it and trusts it as a prefix (re-digested, but a
    // wrong prefix would cost a whole download and must not be left by a kill).
    const auto dash = n.find('-', 8);
    const std::string alg = dash == std::string::npos ? "" : n.substr(8, dash - 8);
    const std::string hex = dash == std::string::npos ? "" : n.substr(dash + 1);
    std::string real;
    bool found = false;
    for (const auto& k : known_blob_dirs) {
      const std::string p = k + "/blobs/" + alg + "/" + hex;
      if (path_exists(p)) {
        real = read_bytes(p);
        found = true;
        break;
      }
    }
    const std::string have = read_bytes(ingest + "/" + n);
    if (!found)
      faults.push_back(".ocipipe-ingest/" + n + ": partial file of an unknown blob");
    else if (have.size() > real.size() || real.compare(0, have.size(), have) != 0)
      faults.push_back(".ocipipe-ingest/" + n + ": " + std::to_string(have.size()) +
                       " bytes that are not a prefix of the blob");
  }
  return join_lines(faults);
}

void copy_layout(const std::string& from, const std::string& to) {
  const auto gone = remove_tree(to);
  if (!gone.empty()) throw std::runtime_error("copy_layout: " + gone);
  fs::copy(from, to, fs::copy_options::recursive);
}

// ---- fixture -------------------------------------------------------------------------------

struct stress_fixture::impl {
  temp_dir root{"ocipipe-stress"};
  std::unique_ptr<test::registry_server> registry;
  std::string a, b, c, d;       // the four images' own layouts
  std::string two, garbage;     // starting layouts
  std::string packdir;
  std::string reg_ref;
};

std::unique_ptr<stress_fixture> stress_fixture::create() {
  std::unique_ptr<stress_fixture> fx(new stress_fixture);
  fx->impl_ = std::make_unique<impl>();
  auto& m = *fx->impl_;
  const auto& root = m.root;
  m.a = root.sub("img-a");
  m.b = root.sub("img-b");
  m.c = root.sub("img-c");
  m.d = root.sub("img-d");
  auto a = build_layout(m.a, "a",
                        {layer({dir("a"), file("a/hello", "hello\n"), file("a/rand", random_bytes(256 << 10, 1))})});
  auto b = build_layout(m.b, "b", {layer({dir("b"), file("b/rand", random_bytes(512 << 10, 2))})});
  // C is what pull and copy fetch: a 1.5 MiB layer, so kills land in the middle of a blob.
  auto c = build_layout(m.c, "c",
                        {layer({dir("c"), file("c/big", random_bytes(3 << 19, 3))}),
                         layer({file("c/note", "note\n")}, layer_compression::zstd)});
  auto d = build_layout(m.d, "d", {layer({dir("d"), file("d/x", random_bytes(128 << 10, 4))})});
  fx->digest_a_ = a.manifest_digest.str();
  fx->digest_b_ = b.manifest_digest.str();
  fx->digest_c_ = c.manifest_digest.str();

  m.two = root.sub("start-two");
  copy_layout(m.a, m.two);
  if (!must_run({"copy", "oci:" + m.b + ":b", "oci:" + m.two + ":b"}).ok()) return nullptr;

  m.garbage = root.sub("start-garbage");
  copy_layout(m.two, m.garbage);
  if (!must_run({"copy", "oci:" + m.d + ":d", "oci:" + m.garbage + ":d"}).ok()) return nullptr;
  if (!must_run({"rm", "oci:" + m.garbage + ":d"}).ok()) return nullptr;
  const std::string ingest = m.garbage + "/.ocipipe-ingest";
  ::mkdir(ingest.c_str(), 0755);
  write_bytes(ingest + "/blob-99999-0-00000000deadbeef", random_bytes(70000, 5));
  write_bytes(ingest + "/index.json-99999-1-00000000deadbeef", R"({"schemaVersion":2,"manif)");
  const std::string big = read_bytes(c.layer_blob_path(0));
  write_bytes(ingest + "/" + "partial-sha256-" + std::string(c.layers[0].digest.encoded()), big.substr(0, 100000));

  m.packdir = root.sub("packdir");
  ::mkdir(m.packdir.c_str(), 0755);
  ::mkdir((m.packdir + "/sub").c_str(), 0755);
  write_bytes(m.packdir + "/hello", "packed\n");
  write_bytes(m.packdir + "/data", random_bytes(384 << 10, 6));
  write_bytes(m.packdir + "/sub/x", "x\n");

  m.registry = test::registry_server::start(test::registry_auth::none);
  if (!m.registry) return nullptr;
  m.reg_ref = m.registry->ref("stress/c:v1");
  if (!must_run({"copy", "oci:" + m.c + ":c", m.reg_ref}).ok()) return nullptr;
  return fx;
}

stress_fixture::~stress_fixture() = default;

std::string stress_fixture::two_image_layout() const { return impl_->two; }
std::string stress_fixture::garbage_layout() const { return impl_->garbage; }
std::string stress_fixture::source_layout() const { return impl_->c; }
std::string stress_fixture::registry_ref() const { return impl_->reg_ref; }
std::string stress_fixture::pack_dir() const { return impl_->packdir; }
std::vector<std::string> stress_fixture::known_blob_dirs() const {
  return {impl_->a, impl_->b, impl_->c, impl_->d};
}
std::string stress_fixture::scratch(const std::string& name) const {
  const std::string p = impl_->root.sub(name);
  (void)remove_tree(p);
  ::mkdir(p.c_str(), 0755);
  return p;
}

// ---- crash safety --------------------------------------------------------------------------

const char* crash_verb_name(crash_verb v) {
  switch (v) {
    case crash_verb::pull: return "pull";
    case crash_verb::pack: return "pack";
    case crash_verb::copy: return "copy";
    case crash_verb::tag: return "tag";
    case crash_verb::rm: return "rm";
    case crash_verb::gc: return "gc";
  }
  return "?";
}

namespace {

struct crash_case {
  std::string start;              // layout each trial starts from
  std::vector<std::string> args;  // with LAYOUT standing for the trial's layout
};

crash_case case_of(const stress_fixture& fx, crash_verb v) {
  const std::string L = "LAYOUT";
  switch (v) {
    case crash_verb::pull:
      return {fx.two_image_layout(), {"pull", fx.registry_ref(), "oci:" + L + ":pulled"}};
    case crash_verb::pack:
      return {fx.two_image_layout(),
              {"pack", "--created", "2024-01-02T03:04:05Z", "--base", "oci:" + L + ":a", fx.pack_dir(),
               "oci:" + L + ":packed"}};
    case crash_verb::copy:
      return {fx.two_image_layout(), {"copy", "oci:" + fx.source_layout() + ":c", "oci:" + L + ":copied"}};
    case crash_verb::tag:
      return {fx.two_image_layout(), {"tag", "oci:" + L + ":a", "b"}};
    case crash_verb::rm:
      return {fx.two_image_layout(), {"rm", "--blobs", "oci:" + L + ":b"}};
    case crash_verb::gc:
      return {fx.garbage_layout(), {"gc", "oci:" + L}};
  }
  return {};
}

std::vector<std::string> bind(std::vector<std::string> args, const std::string& layout) {
  for (auto& a : args) {
    const auto p = a.find("LAYOUT");
    if (p != std::string::npos) a.replace(p, 6, layout);
  }
  return args;
}

struct final_state {
  std::map<std::string, std::string> tags;
  std::vector<std::string> blobs;
  std::vector<std::string> ingest;  // files left in .ocipipe-ingest/
};

final_state state_of(const std::string& layout) {
  final_state s;
  s.tags = layout_tags(layout, nullptr);
  s.blobs = layout_blobs(layout);
  s.ingest = names_in(layout + "/.ocipipe-ingest");
  return s;
}

}  // namespace

void run_crash_trials(const stress_fixture& fx, crash_verb verb, int trials, std::uint64_t seed) {
  const std::string name = crash_verb_name(verb);
  const crash_case cc = case_of(fx, verb);
  const std::string work = fx.scratch(std::string("crash-") + name);
  const std::string layout = work + "/layout";
  const std::string log = work + "/log";
  const auto args = bind(cc.args, layout);
  const auto before = layout_tags(cc.start, nullptr);
  const auto known = fx.known_blob_dirs();

  // Uncut runs: the expected result, and how long the command takes (the kill window).
  std::vector<microseconds> walls;
  final_state expected;
  for (int i = 0; i < 3; ++i) {
    copy_layout(cc.start, layout);
    const auto t0 = clock_type::now();
    const auto e = wait_child(spawn_ocipipe(args, log), t0);
    ASSERT_EQ(e.exit_code, 0) << format_command(args) << ": " << last_lines(log);
    walls.push_back(e.wall);
    auto s = state_of(layout);
    if (i == 0) {
      expected = s;
      ASSERT_EQ(validate_all(layout), "");
      ASSERT_EQ(layout_faults(layout, known), "");
    } else {
      ASSERT_EQ(describe_tags(s.tags), describe_tags(expected.tags)) << name << ": uncut runs differ";
      ASSERT_EQ(s.blobs, expected.blobs) << name << ": uncut runs differ";
    }
  }
  std::sort(walls.begin(), walls.end());
  const auto typical = walls[1];

  std::set<std::string> all_tags;
  for (const auto& [t, d] : before) all_tags.insert(t);
  for (const auto& [t, d] : expected.tags) all_tags.insert(t);

  std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(verb) + 1)));
  std::uniform_int_distribution<long long> pick(0, typical.count());
  int killed = 0;
  int finished = 0;
  int tags_new = 0, partials = 0, blobs_only = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const microseconds delay(pick(rng));
    const std::string where = name + " trial " + std::to_string(trial) + " (seed " + std::to_string(seed) +
                              ", killed after " + std::to_string(delay.count()) + " us of a typical " +
                              std::to_string(typical.count()) + " us): ";
    copy_layout(cc.start, layout);
    const auto t0 = clock_type::now();
    const auto e = kill_after(spawn_ocipipe(args, log), t0, delay);
    if (e.killed) {
      ++killed;
    } else {
      ++finished;
      ASSERT_EQ(e.exit_code, 0) << where << "finished before the kill but failed: " << last_lines(log);
    }

    // The layout as the kill left it.
    std::string err;
    const auto tags = layout_tags(layout, &err);
    ASSERT_EQ(err, "") << where;
    for (const auto& t : all_tags) {
      auto val = [&](const std::map<std::string, std::string>& m) {
        auto it = m.find(t);
        return it == m.end() ? std::string("(none)") : it->second;
      };
      const std::string now = val(tags);
      EXPECT_TRUE(now == val(before) || now == val(expected.tags))
          << where << "tag " << t << " is " << now << ", neither its old value " << val(before)
          << " nor its new one " << val(expected.tags);
    }
    for (const auto& [t, d] : tags)
      EXPECT_TRUE(all_tags.count(t)) << where << "unexpected index.json entry " << t << " -> " << d;
    ASSERT_EQ(layout_faults(layout, known), "") << where;
    ASSERT_EQ(validate_all(layout), "") << where;
    // Which phase the kill hit, for the summary: tags already new, a download cut short,
    // temporaries left behind.
    if (describe_tags(tags) == describe_tags(expected.tags)) ++tags_new;
    for (const auto& n : names_in(layout + "/.ocipipe-ingest")) {
      if (n.rfind("partial-", 0) == 0 && !names_in(cc.start + "/.ocipipe-ingest").size()) {
        ++partials;
        break;
      }
    }
    if (layout_blobs(layout) != layout_blobs(cc.start) && describe_tags(tags) == describe_tags(before)) ++blobs_only;

    // The same command again completes with the uncut result. Except: rm whose kill came
    // after index.json was replaced has removed its tag already, so a second rm says "no
    // tag" (exit 2, as for any missing tag) and the blobs it had not deleted yet are
    // garbage, which gc reclaims (rm's help says so).
    const auto t1 = clock_type::now();
    const auto again = wait_child(spawn_ocipipe(args, log), t1);
    if (verb == crash_verb::rm && !tags.count("b")) {
      ASSERT_EQ(again.exit_code, 2) << where << last_lines(log);
      ASSERT_NE(read_bytes(log).find("not in index.json"), std::string::npos) << where << last_lines(log);
      ASSERT_TRUE(run_ocipipe({"gc", "oci:" + layout}).ok()) << where << "gc after the rm";
    } else {
      ASSERT_EQ(again.exit_code, 0) << where << "the run after the kill failed: " << last_lines(log);
    }
    const auto s = state_of(layout);
    ASSERT_EQ(describe_tags(s.tags), describe_tags(expected.tags)) << where << "after the second run";
    ASSERT_EQ(s.blobs, expected.blobs) << where << "after the second run";
    if (verb == crash_verb::gc) {
      ASSERT_EQ(s.ingest, expected.ingest) << where << "gc left stale files";
    }
    ASSERT_EQ(layout_faults(layout, known), "") << where << "after the second run";
    ASSERT_EQ(validate_all(layout), "") << where << "after the second run";
    if (::testing::Test::HasFailure()) return;
  }
  std::cout << "[ crash    ] " << name << ": " << trials << " trials (" << killed << " killed, " << finished
            << " finished first); after the kill: " << tags_new << " with the new tags, " << blobs_only
            << " with blobs changed but the old tags, " << partials << " with a partial download; uncut run "
            << typical.count() / 1000 << " ms, seed " << seed << std::endl;
}

// ---- concurrency ---------------------------------------------------------------------------

void run_concurrency_rounds(const stress_fixture& fx, int processes, int rounds, std::uint64_t seed) {
  const std::string work = fx.scratch("concurrent-" + std::to_string(processes));
  const std::string layout = work + "/layout";
  copy_layout(fx.two_image_layout(), layout);
  const auto known = fx.known_blob_dirs();
  const std::string L = "oci:" + layout;
  std::mt19937_64 rng(seed ^ (0xc2b2ae3d27d4eb4fULL * static_cast<std::uint64_t>(processes)));

  struct worker {
    std::vector<std::pair<std::string, std::string>> owned;  // tag, digest; oldest first
  };
  std::vector<worker> workers(static_cast<std::size_t>(processes));
  enum op_kind { op_tag, op_pack, op_pull, op_rm, op_gc };
  static const char* const op_names[] = {"tag", "pack", "pull", "rm", "gc"};
  std::map<std::string, int> op_counts;
  const std::regex digest_re("\"manifest_digest\":\"(sha256:[0-9a-f]{64})\"");

  for (int round = 0; round < rounds; ++round) {
    struct started_op {
      op_kind kind;
      std::vector<std::string> args;
      std::string log;
      std::string new_tag;
      std::string digest;  // expected digest of new_tag ("" for pack: read from its output)
      pid_t pid = -1;
      clock_type::time_point t0;
    };
    std::vector<started_op> ops(static_cast<std::size_t>(processes));
    for (int j = 0; j < processes; ++j) {
      auto& w = workers[static_cast<std::size_t>(j)];
      auto& op = ops[static_cast<std::size_t>(j)];
      const std::string tag_base = "w" + std::to_string(j) + "-r" + std::to_string(round);
      op.kind = w.owned.size() >= 6 ? op_rm : static_cast<op_kind>(rng() % 5);
      if (op.kind == op_rm && w.owned.empty()) op.kind = op_gc;
      switch (op.kind) {
        case op_tag: {
          std::string src = "a", d = fx.digest_a();
          if (!w.owned.empty()) std::tie(src, d) = w.owned[rng() % w.owned.size()];
          op.new_tag = tag_base + "-tag";
          op.digest = d;
          op.args = {"tag", L + ":" + src, op.new_tag};
          break;
        }
        case op_pack:
          op.new_tag = tag_base + "-pack";
          op.args = {"pack", "--json", "--created", "2024-01-02T03:04:05Z", "--label", "stress=" + tag_base,
                     "--base", L + ":a", fx.pack_dir(), L + ":" + op.new_tag};
          break;
        case op_pull:
          op.new_tag = tag_base + "-pull";
          op.digest = fx.digest_c();
          op.args = {"pull", fx.registry_ref(), L + ":" + op.new_tag};
          break;
        case op_rm: {
          const auto victim = w.owned.front().first;
          w.owned.erase(w.owned.begin());
          op.args = {"rm"};
          if (rng() % 2) op.args.push_back("--blobs");
          op.args.push_back(L + ":" + victim);
          break;
        }
        case op_gc:
          op.args = {"gc", L};
          break;
      }
      op.log = work + "/log-" + std::to_string(j);
      ++op_counts[op_names[op.kind]];
    }
    // Start them together, then wait for all.
    for (auto& op : ops) {
      op.t0 = clock_type::now();
      op.pid = spawn_ocipipe(op.args, op.log);
    }
    std::vector<child_end> ends;
    for (auto& op : ops) ends.push_back(wait_child(op.pid, op.t0));  // all reaped before any ASSERT
    for (std::size_t j = 0; j < ops.size(); ++j) {
      auto& op = ops[j];
      const auto& e = ends[j];
      ASSERT_EQ(e.exit_code, 0) << "round " << round << " (seed " << seed << "), worker " << j << ": "
                                << format_command(op.args) << ": " << last_lines(op.log);
      if (op.new_tag.empty()) continue;
      if (op.kind == op_pack) {
        std::smatch sm;
        const std::string out = read_bytes(op.log);
        ASSERT_TRUE(std::regex_search(out, sm, digest_re)) << "pack printed no manifest digest: " << out;
        op.digest = sm[1];
      }
      workers[j].owned.emplace_back(op.new_tag, op.digest);
    }

    // No tag lost, none resurrected, each with the digest it was given.
    std::map<std::string, std::string> want{{"a", fx.digest_a()}, {"b", fx.digest_b()}};
    for (const auto& w : workers)
      for (const auto& [t, d] : w.owned) want[t] = d;
    std::string err;
    const auto have = layout_tags(layout, &err);
    ASSERT_EQ(err, "") << "round " << round << " (seed " << seed << ")";
    ASSERT_EQ(describe_tags(have), describe_tags(want)) << "round " << round << " (seed " << seed << ")";
    if (round % 10 == 9 || round == rounds - 1) {
      ASSERT_EQ(layout_faults(layout, known), "") << "round " << round << " (seed " << seed << ")";
      ASSERT_EQ(validate_all(layout), "") << "round " << round << " (seed " << seed << ")";
    }
  }
  std::string counts;
  for (const auto& [k, n] : op_counts) counts += " " + k + "=" + std::to_string(n);
  std::cout << "[ stress   ] " << processes << " processes, " << rounds << " rounds:" << counts << ", seed " << seed
            << std::endl;
}

}  // namespace ocipipe::testing
