// `ocipipe bench` (pipeline/host_bench.h, pipeline/cli/bench.cpp): every
// measurement runs briefly and gives a positive rate; a failed correctness
// check is an error, never a number; --dir is left as it was; --json has
// the shape bench/ scripts read; --image gives a floor for an image packed
// here. Durations are tiny: these check the plumbing, not the host.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/host_bench.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

using json = nlohmann::json;

pipeline::host_bench_options tiny(const std::string& dir) {
  pipeline::host_bench_options o;
  o.dir = dir;
  o.seconds = 0.02;
  o.threads = 2;
  o.data_bytes = 256 << 10;
  return o;
}

// A small image made with the pack API: a few files, one gzip layer.
pack_report pack_small_image(const temp_dir& t, const std::string& ref) {
  ::mkdir(t.sub("src").c_str(), 0755);
  ::mkdir(t.sub("src/etc").c_str(), 0755);
  write_bytes(t.sub("src/etc/hostname"), "bench\n");
  write_bytes(t.sub("src/big"), std::string(300000, 'x'));
  write_bytes(t.sub("src/etc/motd"), "hello from the floor\n");
  auto r = pack(t.sub("src"), *parse_reference(ref), {});
  if (!r) throw std::runtime_error(r.error().message());
  return *r;
}

TEST(HostBench, EveryMeasurementGivesAPositiveRateInBothColumns) {
  temp_dir t;
  std::vector<std::string> started;
  auto o = tiny(t.path());
  o.on_start = [&](std::string_view n) { started.emplace_back(n); };
  auto rows = pipeline::run_host_bench(o);
  ASSERT_TRUE(rows) << rows.error().message();
  EXPECT_EQ(started, pipeline::bench_measurement_names());
  std::vector<std::string> names;
  for (const auto& r : *rows) {
    names.push_back(r.name);
    EXPECT_GT(r.single, 0) << r.name;
    EXPECT_GT(r.all, 0) << r.name;
    EXPECT_EQ(r.threads, 2) << r.name;
    EXPECT_FALSE(r.engine.empty()) << r.name;
    EXPECT_TRUE(r.unit == "bytes/s" || r.unit == "files/s" || r.unit == "entries/s") << r.unit;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"sha256", "sha512", pipeline::gzip_inflate_measurement(), "inflate_libdeflate", "zstd",
                                             "tar_parse", "tar_parse_entries", "file_create", "file_create_bytes",
                                             "unpack_graph"}));
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{}) << "bench left files in --dir";
}

TEST(HostBench, AFailedCheckIsAnErrorAndNothingIsTimed) {
  std::atomic<int> steps{0};
  pipeline::workload w;
  w.check = []() -> result<void> { return fail(errc::malformed, "output differs from the input"); };
  w.make_stream = [&](int) -> result<pipeline::bench_step> {
    return pipeline::bench_step([&]() -> result<pipeline::work_done> {
      ++steps;
      return pipeline::work_done{1, 0, 0};
    });
  };
  auto r = pipeline::run_measurement("inflate_isal", w, 2, 0.01);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_EQ(r.error().message(), "inflate_isal: check: output differs from the input");
  EXPECT_EQ(steps.load(), 0);
}

TEST(HostBench, AFailingStepIsAnErrorFromAnyStream) {
  pipeline::workload w;
  w.make_stream = [](int stream) -> result<pipeline::bench_step> {
    return pipeline::bench_step([stream]() -> result<pipeline::work_done> {
      if (stream == 1) return fail(errc::io, "disk full");
      return pipeline::work_done{1, 0, 0};
    });
  };
  auto one = pipeline::run_streams(w, 1, 0.01);
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_GT(one->units_per_second, 0);
  auto two = pipeline::run_streams(w, 2, 0.01);
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().message(), "disk full");
}

TEST(HostBench, UntimedCleanupIsLeftOutOfTheRate) {
  // Each step sleeps 2 ms or more (more on a busy machine) and reports exactly the
  // time it slept as untimed: the rate then counts only the microseconds around the
  // sleep, whatever the load, and a rate blind to untimed work stays under 500 000.
  pipeline::workload w;
  w.make_stream = [](int) -> result<pipeline::bench_step> {
    return pipeline::bench_step([]() -> result<pipeline::work_done> {
      const auto start = std::chrono::steady_clock::now();
      ::usleep(2000);
      const std::chrono::duration<double> slept = std::chrono::steady_clock::now() - start;
      return pipeline::work_done{1000, 1, slept.count()};
    });
  };
  auto r = pipeline::run_streams(w, 1, 0.05);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_GT(r->units_per_second, 1'000'000);
}

TEST(HostBench, ErrorsAndCancelLeaveTheDirectoryAsItWas) {
  temp_dir t;
  write_bytes(t.sub("keep"), "mine");
  std::atomic<bool> cancel{true};
  auto o = tiny(t.path());
  o.only = {"file_create"};
  o.cancel = &cancel;
  auto r = pipeline::run_host_bench(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::cancelled);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"keep"});

  o = tiny(t.sub("missing"));
  r = pipeline::run_host_bench(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("missing"), std::string::npos) << r.error().message();
  EXPECT_FALSE(path_exists(t.sub("missing")));

  o = tiny(t.path());
  o.only = {"sha256", "crc32"};
  r = pipeline::run_host_bench(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().message().find("crc32"), std::string::npos);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"keep"});
}

TEST(HostBench, JsonHasTheShapeTheScriptsRead) {
  temp_dir t;
  auto run = run_ocipipe({"bench", "--dir", t.path(), "--seconds", "0.02", "--size", "0.25", "-j", "2",
                          "--only", "sha256,tar_parse,file_create", "--json"});
  ASSERT_TRUE(run.ok()) << run.describe();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  json j = json::parse(lines[0], nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << run.out;
  ASSERT_TRUE(j["host"].is_object());
  EXPECT_TRUE(j["host"]["cpu_model"].is_string());
  EXPECT_TRUE(j["host"]["online_cpus"].is_number_integer());
  EXPECT_EQ(j["host"]["threads"], 2);
  EXPECT_TRUE(j["host"]["kernel"].is_string());
  EXPECT_TRUE(j["host"]["ocipipe"].is_string());
  EXPECT_DOUBLE_EQ(j["seconds_per_measurement"].get<double>(), 0.02);
  EXPECT_TRUE(j["floor"].is_null());
  std::set<std::string> names;
  for (const auto& m : j["measurements"]) {
    names.insert(m["name"].get<std::string>());
    EXPECT_TRUE(m["engine"].is_string());
    EXPECT_TRUE(m["unit"].is_string());
    EXPECT_GT(m["single"].get<double>(), 0);
    EXPECT_GT(m["all"].get<double>(), 0);
    EXPECT_EQ(m["threads"], 2);
  }
  EXPECT_EQ(names, (std::set<std::string>{"sha256", "tar_parse", "tar_parse_entries", "file_create",
                                          "file_create_bytes"}));
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{});
}

TEST(HostBench, ImageGivesAFloorFromItsLayers) {
  temp_dir t;
  const std::string ref = "oci:" + t.sub("img") + ":small";
  const auto packed = pack_small_image(t, ref);

  auto layers = pipeline::measure_image_layers(*parse_reference(ref));
  ASSERT_TRUE(layers) << layers.error().message();
  ASSERT_EQ(layers->size(), 1u);
  EXPECT_EQ((*layers)[0].digest, packed.layer.digest.str());
  EXPECT_EQ((*layers)[0].compression, "gzip");
  EXPECT_EQ((*layers)[0].compressed_bytes, static_cast<std::uint64_t>(packed.layer.size));
  EXPECT_EQ((*layers)[0].tar_bytes, packed.tar_bytes);
  EXPECT_EQ((*layers)[0].entries, packed.entries);

  ::mkdir(t.sub("scratch").c_str(), 0755);
  auto run = run_ocipipe({"bench", "--dir", t.sub("scratch"), "--seconds", "0.02", "--size", "0.25", "-j", "2",
                          "--only", "sha512", "--image", ref, "--json"});
  ASSERT_TRUE(run.ok()) << run.describe();
  json j = json::parse(run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << run.out;
  const auto& f = j["floor"];
  ASSERT_TRUE(f.is_object()) << run.out;
  EXPECT_EQ(f["image"], ref);
  ASSERT_EQ(f["layers"].size(), 1u);
  EXPECT_EQ(f["layers"][0]["digest"], packed.layer.digest.str());
  EXPECT_EQ(f["layers"][0]["compression"], "gzip");
  EXPECT_EQ(f["layers"][0]["tar_bytes"], packed.tar_bytes);
  EXPECT_EQ(f["layers"][0]["entries"], packed.entries);
  EXPECT_GT(f["cpu_seconds"].get<double>(), 0);
  EXPECT_GT(f["apply_seconds"].get<double>(), 0);
  const double cpu = f["cpu_seconds"], apply = f["apply_seconds"];
  EXPECT_DOUBLE_EQ(f["unpack_floor_seconds"].get<double>(), std::max((cpu + apply) / 2, apply));
  EXPECT_DOUBLE_EQ(f["validate_floor_seconds"].get<double>(), cpu / 2);
  EXPECT_TRUE(f["unpack_bound"] == "cpu" || f["unpack_bound"] == "apply");
  // --only sha512 plus what the floor needs.
  std::set<std::string> names;
  for (const auto& m : j["measurements"]) names.insert(m["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"sha256", "sha512", pipeline::gzip_inflate_measurement(), "tar_parse", "tar_parse_entries",
                                          "file_create", "file_create_bytes"}));

  // The human form names the floor and its binding term.
  run = run_ocipipe({"bench", "--dir", t.sub("scratch"), "--seconds", "0.01", "--size", "0.25", "--only", "sha256",
                     "--image", ref});
  ASSERT_TRUE(run.ok()) << run.describe();
  EXPECT_TRUE(contains(run.out, "unpack floor")) << run.out;
  EXPECT_TRUE(contains(run.out, "validate floor")) << run.out;
  EXPECT_EQ(names_in(t.sub("scratch")), std::vector<std::string>{});
}

TEST(HostBench, CliRefusesAMissingDirAndAnUnknownImageWithExit2) {
  temp_dir t;
  auto run = run_ocipipe({"bench", "--dir", t.sub("nope"), "--seconds", "0.01", "--only", "sha256"});
  EXPECT_EQ(run.exit_code, 2) << run.describe();
  EXPECT_TRUE(contains(run.err, "nope")) << run.err;
  run = run_ocipipe({"bench", "--dir", t.path(), "--seconds", "0.01", "--only", "sha256", "--image",
                     "oci:" + t.sub("none") + ":x"});
  EXPECT_EQ(run.exit_code, 2) << run.describe();
  EXPECT_TRUE(contains(run.err, "--image")) << run.err;
}

}  // namespace
}  // namespace ocipipe::testing
