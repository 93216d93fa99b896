// ocipipe: the command-line front end. One file per verb in this folder.
#include <cerrno>
#include <clocale>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "io/process_heap.h"
#include "pipeline/cli/cli.h"
#include "stages/errno_text.h"

namespace ocipipe::cli {

// Declared here rather than in cli.h, which every verb includes (issue 9).
verb add_bench(CLI::App& root, global_flags& g);

void add_global_flags(CLI::App& app, global_flags& flags) {
  app.add_option("-j,--jobs", flags.jobs, "Worker threads (default: all cores)")
      ->check(CLI::Range(0, 4096));
  app.add_flag("--json", flags.json, "Write results as JSON Lines (the stable format)");
  app.add_flag("-q,--quiet", flags.quiet, "Print errors only");
  app.add_flag("-v,--verbose", flags.verbose, "Per-layer and per-image detail on stderr (as --progress=always)");
  app.add_option("--progress", flags.progress, "Progress on stderr: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
}

namespace {
std::atomic<bool> cancel_flag{false};
std::atomic<int> cancel_signal{0};

std::atomic<bool> stdout_closed{false};

// A reader that closed the pipe (`| head`) wants no more output, but the exit
// status is still the verb's: the run goes on without printing, so an invalid
// image stays exit 1 (`validate IMG | head -1` under pipefail), a valid one 0.
// A write cut short by SIGINT/SIGTERM (their handlers do not restart calls)
// ends as the signal asked: 128+N. Any other write failure (a full disk)
// loses results: that is exit 2.
void stdout_failed(int err) {
  if (err == EPIPE) {
    stdout_closed = true;
    return;
  }
  if (const int sig = cancel_signal.load(); err == EINTR && sig != 0) std::_Exit(128 + sig);
  err_line("writing results to stdout: " + errno_text(err));
  std::_Exit(exit_failure);
}
}  // namespace

void out_line(const std::string& line) {
  if (stdout_closed) return;
  errno = 0;
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fputc('\n', stdout) == EOF ||
      std::fflush(stdout) != 0)
    stdout_failed(errno ? errno : EIO);
}

void out_json(std::string_view type, nlohmann::ordered_json data) {
  nlohmann::ordered_json rec;
  rec["type"] = type;
  rec["schema"] = 1;
  rec["data"] = std::move(data);
  out_line(rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {
std::atomic<bool> progress_line_open{false};
}

void err_line(const std::string& message) {
  // A message never lands on the end of a progress line being redrawn.
  const std::string line = std::string(progress_line_open.exchange(false) ? "\r\033[K" : "") + "ocipipe: " +
                           message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void progress_line(const std::string& message, bool last) {
  const std::string line = "\rocipipe: " + message + (last ? "\033[K\n" : "\033[K");
  progress_line_open = !last;
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool progress_enabled(const global_flags& g) {
  if (g.quiet || g.progress == "never") return false;
  return g.progress == "always" || g.verbose > 0 || ::isatty(STDERR_FILENO);
}

namespace {
extern "C" void on_cancel_signal(int sig) {
  cancel_signal.store(sig);
  cancel_flag.store(true);
}
}  // namespace

const std::atomic<bool>* install_cancel_handlers() {
  struct sigaction sa{};
  sa.sa_handler = on_cancel_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  return &cancel_flag;
}

int exit_code_after_signals(int rc) {
  const int sig = cancel_signal.load();
  return sig ? 128 + sig : rc;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

namespace {
// Every repeatable option of `app` and its subcommands takes exactly one
// value per occurrence: CLI11 lets a vector option take every word up to
// the next flag, so `verify --key K REF1 REF2` would read REF1 as a second
// key. Delimited values (`--args a,b`) are still split. Run once all verbs
// are added, so no verb's option is missed.
void one_value_per_occurrence(CLI::App& app) {
  const auto repeatable = [](CLI::Option* o) { return !o->get_positional() && o->get_expected_max() > 1; };
  for (CLI::Option* o : app.get_options(repeatable)) o->allow_extra_args(false);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) one_value_per_occurrence(*sub);
}
}  // namespace

}  // namespace ocipipe::cli

int main(int argc, char** argv) {
  using namespace ocipipe::cli;
  std::setlocale(LC_ALL, "C.UTF-8");
  std::signal(SIGPIPE, SIG_IGN);  // EPIPE on stdout ends the run quietly instead
  // Removing a deep tree holds one fd per level: allow what the hard limit allows.
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  // Before any thread: chunk buffers from memory kept for reuse, on huge
  // pages on small hosts (io/process_heap.h).
  ocipipe::io::tune_process_heap(std::thread::hardware_concurrency());
  try {
    CLI::App app{"ocipipe: validate, unpack and create OCI images, fast and safely"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("ocipipe ") + OCIPIPE_VERSION);
    app.footer("Run 'ocipipe VERB --help' for a verb's flags and an example.");
    global_flags g;
    add_global_flags(app, g);  // also accepted before the verb: ocipipe -j1 unpack …
    std::vector<verb> verbs = {add_validate(app, g), add_unpack(app, g), add_create(app, g),
                               add_pack(app, g),     add_inspect(app, g),  add_ls(app, g),
                               add_tag(app, g),      add_rm(app, g),       add_gc(app, g),
                               add_copy(app, g),     add_pull(app, g),
                               add_push(app, g),     add_sign(app, g),
                               add_verify(app, g),   add_bench(app, g),
                               add_version(app, g)};
    one_value_per_occurrence(app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      err_line(std::string(e.what()) + " (see 'ocipipe --help')");
      return exit_failure;
    }
    for (auto& v : verbs)
      if (v.app->parsed()) return exit_code_after_signals(v.run());
    return exit_failure;
  } catch (const std::exception& e) {
    err_line(std::string("internal error: ") + e.what());
    return exit_failure;
  } catch (...) {
    err_line("internal error: unknown exception");
    return exit_failure;
  }
}
