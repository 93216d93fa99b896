// Sharded validate through the command line (issue 11), as a Kubernetes Indexed Job or a
// Slurm job array runs it: N = 1, 3 and 8 `ocipipe validate --shard K/N --facts FILE`
// processes at once over a synthetic mirror (datasets/mirror.py: layouts sharing hardlinked
// base layers, so every image's blobs fall in several shards), one of its base layers
// corrupted and one image's own layer deleted; then `ocipipe validate --merge` must print
// exactly what one unsharded `ocipipe validate` prints (--json, wall times aside) and exit
// with its code. K and N from the engines' variables (JOB_COMPLETION_INDEX,
// SLURM_ARRAY_TASK_*) give the same. The merge rules themselves: tests/unit/validate_shard_test.cpp.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stages/oci/digest.h"
#include "tests/support/child_process.h"
#include "tests/support/test_env.h"

namespace ocipipe::testing {
namespace {

constexpr int kImages = 16;  // on 2 base images: the one corrupted leaves some images valid

std::string blob_path(const std::string& layout, const std::string& d) {
  return layout + "/" + digest::parse(d).value().blob_path();
}

// The layer digests of the one manifest of `layout`.
std::vector<std::string> layers_of(const std::string& layout) {
  const auto index = nlohmann::json::parse(read_bytes(layout + "/index.json"));
  const auto manifest =
      nlohmann::json::parse(read_bytes(blob_path(layout, index.at("manifests")[0].at("digest").get<std::string>())));
  std::vector<std::string> out;
  for (const auto& l : manifest.at("layers")) out.push_back(l.at("digest").get<std::string>());
  return out;
}

// --json output with each "seconds" value blanked: the only field a merge may differ in.
std::string without_times(const std::string& out) {
  return std::regex_replace(out, std::regex(R"("seconds":[0-9.eE+-]+)"), R"("seconds":-)");
}

class ValidateShardCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = run_command({"python3", source_dir() + "/datasets/mirror.py", "--seed", "11", "--out",
                             tmp_.sub("mirror"), "--images", std::to_string(kImages), "--total-bytes", "6M", "-q"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    for (int i = 0; i < kImages; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "img-%03d", i);
      refs_.push_back("oci:" + tmp_.sub("mirror") + "/" + name);
    }
    // A base layer (hardlinked into several layouts) with one byte flipped, and one
    // image's own top layer gone.
    const auto three = tmp_.sub("mirror/img-003");
    const auto base = blob_path(three, layers_of(three).front());
    auto bytes = read_bytes(base);
    ASSERT_FALSE(bytes.empty());
    bytes[bytes.size() / 2] ^= 0x20;
    std::ofstream(base, std::ios::binary | std::ios::in | std::ios::out).write(bytes.data(), std::streamsize(bytes.size()));
    const auto five = tmp_.sub("mirror/img-005");
    ASSERT_EQ(::unlink(blob_path(five, layers_of(five).back()).c_str()), 0);
  }

  std::vector<std::string> validate_args(std::vector<std::string> head) const {
    head.insert(head.begin(), {"validate", "--all"});
    head.insert(head.end(), refs_.begin(), refs_.end());
    return head;
  }

  // How shard K is started: the environment it gets and its --shard value.
  struct shard_launch {
    std::vector<std::string> env;
    std::string spec;
  };
  using launcher = std::function<shard_launch(unsigned k, unsigned n)>;
  static shard_launch explicit_k_of_n(unsigned k, unsigned n) { return {{}, std::to_string(k) + "/" + std::to_string(n)}; }

  // Runs the N shards as N processes at once, each writing its facts; then the merge.
  command_result sharded(unsigned n, const launcher& launch = explicit_k_of_n) {
    std::vector<std::unique_ptr<child_process>> shards;
    std::vector<std::string> facts;
    for (unsigned k = 0; k < n; ++k) {
      facts.push_back(tmp_.sub("facts-" + std::to_string(n) + "-" + std::to_string(k) + ".jsonl"));
      const auto how = launch(k, n);
      std::vector<std::string> argv = {"env"};
      argv.insert(argv.end(), how.env.begin(), how.env.end());
      argv.push_back(ocipipe_binary());
      for (auto& a : validate_args({"--shard", how.spec, "--facts", facts.back()})) argv.push_back(a);
      shards.push_back(std::make_unique<child_process>(argv));
    }
    for (unsigned k = 0; k < n; ++k) {
      auto done = shards[k]->wait();
      EXPECT_EQ(done.run.exit_code, 0) << "shard " << k << " of " << n << ": " << done.run.err;
      EXPECT_TRUE(path_exists(facts[k]));
    }
    std::vector<std::string> merge = {"--json", "validate", "--merge"};
    merge.insert(merge.end(), facts.rbegin(), facts.rend());
    return run_ocipipe(merge);
  }

  temp_dir tmp_;
  std::vector<std::string> refs_;
};

TEST_F(ValidateShardCli, MergeOfOneThreeAndEightShardsPrintsTheUnshardedVerdicts) {
  const auto plain = run_ocipipe(validate_args({"--json"}));
  ASSERT_EQ(plain.exit_code, 1) << "a corrupted base and a missing layer: " << plain.out << plain.err;
  ASSERT_TRUE(contains(plain.out, "blob.digest")) << plain.out;
  ASSERT_TRUE(contains(plain.out, "blob.missing")) << plain.out;
  ASSERT_TRUE(contains(plain.out, R"("status":"valid")")) << "some images should still pass: " << plain.out;
  for (unsigned n : {1u, 3u, 8u}) {
    SCOPED_TRACE("N=" + std::to_string(n));
    const auto merged = sharded(n);
    EXPECT_EQ(merged.exit_code, plain.exit_code) << merged.err;
    EXPECT_EQ(without_times(merged.out), without_times(plain.out));
  }
}

TEST_F(ValidateShardCli, HumanReportOfTheMergeIsTheUnshardedOne) {
  const auto plain = run_ocipipe(validate_args({}));
  const auto merged = sharded(3);
  // sharded() asks for --json; the human report comes from the same facts.
  std::vector<std::string> merge = {"validate", "--merge"};
  for (unsigned k = 0; k < 3; ++k) merge.push_back(tmp_.sub("facts-3-" + std::to_string(k) + ".jsonl"));
  const auto human = run_ocipipe(merge);
  EXPECT_EQ(human.exit_code, plain.exit_code);
  EXPECT_EQ(human.out, plain.out);
  EXPECT_EQ(merged.exit_code, plain.exit_code);
}

TEST_F(ValidateShardCli, KubernetesAndSlurmVariablesNameTheShard) {
  const auto plain = run_ocipipe(validate_args({"--json"}));
  const auto by_k8s = sharded(3, [](unsigned k, unsigned n) {
    return shard_launch{{"JOB_COMPLETION_INDEX=" + std::to_string(k)}, "auto/" + std::to_string(n)};
  });
  EXPECT_EQ(by_k8s.exit_code, plain.exit_code) << by_k8s.err;
  EXPECT_EQ(without_times(by_k8s.out), without_times(plain.out));
  // sbatch --array=1-3: task ids count from 1.
  const auto by_slurm = sharded(3, [](unsigned k, unsigned n) {
    return shard_launch{{"SLURM_ARRAY_TASK_ID=" + std::to_string(k + 1), "SLURM_ARRAY_TASK_MIN=1",
                         "SLURM_ARRAY_TASK_COUNT=" + std::to_string(n)},
                        "auto"};
  });
  EXPECT_EQ(by_slurm.exit_code, plain.exit_code) << by_slurm.err;
  EXPECT_EQ(without_times(by_slurm.out), without_times(plain.out));
}

// examples/sharded-validate's Slurm scripts, run as the array would run them (sbatch reads
// the #SBATCH lines; bash sees comments): three tasks numbered from 1, then the merge.
TEST_F(ValidateShardCli, SlurmExampleScriptsGiveTheUnshardedVerdicts) {
  std::vector<std::string> bare;  // the script's references: the layouts as paths
  for (const auto& r : refs_) bare.push_back(r.substr(4));
  std::vector<std::string> plain_args = {"--json", "validate", "--all"};
  plain_args.insert(plain_args.end(), bare.begin(), bare.end());
  const auto plain = run_ocipipe(plain_args);
  const auto examples = source_dir() + "/examples/sharded-validate/";
  const std::vector<std::string> common = {"OCIPIPE=" + ocipipe_binary(), "MIRROR=" + tmp_.sub("mirror"),
                                           "REPORTS=" + tmp_.sub("reports")};
  for (unsigned task = 1; task <= 3; ++task) {
    std::vector<std::string> argv = {"env", "SLURM_ARRAY_TASK_ID=" + std::to_string(task), "SLURM_ARRAY_TASK_MIN=1",
                                     "SLURM_ARRAY_TASK_COUNT=3", "SLURM_CPUS_PER_TASK=1"};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"bash", examples + "slurm-validate.sbatch"});
    const auto r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << format_command(argv) << "\n" << r.err;
  }
  std::vector<std::string> merge = {"env"};
  merge.insert(merge.end(), common.begin(), common.end());
  merge.insert(merge.end(), {"bash", examples + "slurm-merge.sbatch"});
  const auto merged = run_command(merge);
  EXPECT_EQ(merged.exit_code, plain.exit_code) << merged.err;
  EXPECT_EQ(without_times(read_bytes(tmp_.sub("reports/verdicts.jsonl"))), without_times(plain.out));
}

// --facts names a file to replace whole: a symlink (or /dev/null, as root) must not be
// renamed over. tests/unit/output_file_test.cpp has each kind of file.
TEST_F(ValidateShardCli, FactsNeverReplaceWhatIsNotARegularFile) {
  write_bytes(tmp_.sub("kept.jsonl"), "kept");
  ASSERT_EQ(::symlink("kept.jsonl", tmp_.sub("link.jsonl").c_str()), 0);
  auto r = run_ocipipe(validate_args({"--shard", "0/2", "--facts", tmp_.sub("link.jsonl")}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "is a symbolic link")) << r.err;
  EXPECT_TRUE(S_ISLNK(lstat_of(tmp_.sub("link.jsonl")).st_mode));
  EXPECT_EQ(read_bytes(tmp_.sub("kept.jsonl")), "kept");
  r = run_ocipipe(validate_args({"--shard", "0/2", "--facts", ""}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_ocipipe(validate_args({"--shard", ""}));
  EXPECT_EQ(r.exit_code, 2) << "an empty --shard must not mean an unsharded run: " << r.out;
}

// Facts through a pipe: `--facts -` writes them to stdout and `--merge -` reads them back.
TEST_F(ValidateShardCli, FactsThroughStdoutAndStdin) {
  const auto plain = run_ocipipe(validate_args({}));
  auto shard = run_ocipipe(validate_args({"--shard", "0/1"}));
  ASSERT_EQ(shard.exit_code, 0) << shard.err;
  write_bytes(tmp_.sub("piped.jsonl"), shard.out);
  run_options from_file;
  from_file.stdin_path = tmp_.sub("piped.jsonl");
  const auto merged = run_ocipipe({"validate", "--merge", "-"}, from_file);
  EXPECT_EQ(merged.exit_code, plain.exit_code) << merged.err;
  EXPECT_EQ(merged.out, plain.out);
}

TEST_F(ValidateShardCli, MergeWithAShardMissingFailsWithExit2) {
  (void)sharded(3);
  const auto r = run_ocipipe({"validate", "--merge", tmp_.sub("facts-3-0.jsonl"), tmp_.sub("facts-3-2.jsonl")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "shard(s) 1 of 3 are missing")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace ocipipe::testing
