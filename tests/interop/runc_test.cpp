// Bundles made by `ocipipe create` run under runc: an explicit --args command and the image's
// own entrypoint + cmd. Needs root (runc) and the datasets. Each test gets its own runc state
// directory (--root) and container id, so parallel tests never collide, and deletes its
// container whatever happens.

#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

std::string unique_container_id() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("ocipipe-test-") + info->name() + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

// A runc container of one test: `runc --root STATE run --bundle BUNDLE ID`, deleted with
// `runc delete -f` on destruction even when the test failed half-way.
class runc_container {
 public:
  runc_container(std::string state_root, std::string bundle)
      : state_root_(std::move(state_root)), bundle_(std::move(bundle)), id_(unique_container_id()) {}
  ~runc_container() {
    (void)run_command({"runc", "--root", state_root_, "delete", "-f", id_});
  }
  runc_container(const runc_container&) = delete;
  runc_container& operator=(const runc_container&) = delete;

  /// Runs the container in the foreground, no terminal, stdin from /dev/null.
  command_result run() {
    run_options opts;
    opts.timeout = std::chrono::seconds(120);
    return run_command({"runc", "--root", state_root_, "run", "--bundle", bundle_, id_}, opts);
  }

 private:
  std::string state_root_;
  std::string bundle_;
  std::string id_;
};

// `ocipipe create [extra...] REF BUNDLE`, then runc; returns runc's result.
void create_and_run(const std::vector<std::string>& extra, command_result& out) {
  if (::geteuid() != 0) GTEST_FAIL() << "this test needs root to run runc";
  OCIPIPE_REQUIRE_DATASET("debian-slim");
  temp_dir tmp;
  const std::string bundle = tmp.sub("bundle");
  std::vector<std::string> args = {"create"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(dataset_ref("debian-slim"));
  args.push_back(bundle);
  command_result created = run_ocipipe(args);
  ASSERT_TRUE(created.ok()) << "ocipipe " << format_command(args) << ": " << created.describe();

  runc_container c(tmp.sub("runc-state"), bundle);  // destroyed (deleted) before tmp
  out = c.run();
}

TEST(RuncRun, ArgsOverrideRunsEcho) {
  command_result r;
  create_and_run({"--args", "/bin/echo,ok"}, r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "ok\n") << "stderr: " << r.err;
}

// debian-slim: entrypoint /usr/bin/python3, cmd ["-c", "print('hello from debian-slim')"]
// (datasets/build.sh, build_debian-slim).
TEST(RuncRun, ImageEntrypointAndCmdRun) {
  command_result r;
  create_and_run({}, r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from debian-slim\n") << "stderr: " << r.err;
}

}  // namespace
}  // namespace ocipipe::testing
