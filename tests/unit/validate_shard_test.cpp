// Sharded validate (issue 11): --shard's grammar and environment variables, the blob-to-shard
// rule, and the merge of N shards' facts giving the unsharded run's image_validation values
// field for field, over images whose problems need blobs of different shards (a hardlink into
// a lower layer, a diff_id the config claims, one base layer named by several images) and
// merges that must be refused (a shard missing, twice, cut short, of another run, of changed
// images). The command line over datasets/mirror.py: tests/interop/validate_shard_interop_test.cpp.

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/api.h"
#include "tests/support/image_builder.h"
#include "tests/support/test_env.h"
#include "tests/support/validate_support.h"

namespace ocipipe::testing {
namespace {

using env_map = std::map<std::string, std::string>;

result<validate_shard> parse_with(const std::string& text, const env_map& env) {
  return parse_validate_shard(text, [&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST(ValidateShardSpec, ExplicitKOfN) {
  auto s = parse_with("2/8", {});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 8u);
  s = parse_with("0/1", {});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 1u);
}

TEST(ValidateShardSpec, RefusesWhatIsNotAShard) {
  for (const char* bad : {"8/8", "9/8", "0/0", "1", "x/3", "1/x", "-1/3", "1/-3", "", "/", "1/", "/3", "1/3/5",
                          "auto/0", "1 /3", "1/1234567890"}) {
    SCOPED_TRACE(bad);
    auto s = parse_with(bad, {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), errc::invalid_argument);
    EXPECT_TRUE(contains(s.error().message(), "--shard")) << s.error().message();
  }
  EXPECT_TRUE(contains(parse_with("8/8", {}).error().message(), "0 to N-1"));
}

TEST(ValidateShardSpec, KubernetesIndexedJobGivesK) {
  auto s = parse_with("auto/4", {{"JOB_COMPLETION_INDEX", "3"}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 3u);
  EXPECT_EQ(s->count, 4u);
  // Kubernetes publishes no count: plain auto needs Slurm's.
  auto none = parse_with("auto", {{"JOB_COMPLETION_INDEX", "3"}});
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error().message(), "SLURM_ARRAY_TASK_COUNT")) << none.error().message();
  EXPECT_TRUE(contains(none.error().message(), "auto/N")) << none.error().message();
  EXPECT_FALSE(parse_with("auto/4", {{"JOB_COMPLETION_INDEX", "4"}}));
  EXPECT_FALSE(parse_with("auto/4", {{"JOB_COMPLETION_INDEX", "two"}}));
}

TEST(ValidateShardSpec, SlurmArrayGivesKAndNCountingFromItsFirstTask) {
  auto s = parse_with("auto", {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                               {"SLURM_ARRAY_TASK_COUNT", "8"}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 4u);
  EXPECT_EQ(s->count, 8u);
  s = parse_with("auto", {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "3"}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 0u);
  EXPECT_EQ(s->count, 3u);
  // --array=1-8 without the MIN variable would make task 8 shard 8 of 8.
  EXPECT_FALSE(parse_with("auto", {{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  EXPECT_FALSE(parse_with("auto", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "2"},
                                   {"SLURM_ARRAY_TASK_COUNT", "8"}}));
}

TEST(ValidateShardSpec, SlurmArrayWithAStepGivesTheTasksPlace) {
  // sbatch --array=0-8:4: tasks 0, 4 and 8.
  const env_map stepped = {{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_STEP", "4"},
                           {"SLURM_ARRAY_TASK_COUNT", "3"}};
  auto s = parse_with("auto", stepped);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 3u);
  auto off = stepped;
  off["SLURM_ARRAY_TASK_ID"] = "5";
  auto r = parse_with("auto", off);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "step")) << r.error().message();
}

// Task ids are not bounded by N: an array --array=2000000-2000007 is tasks 0 to 7, and two
// ids past a million must not become the same shard.
TEST(ValidateShardSpec, LargeSlurmTaskIdsKeepTheirPlace) {
  auto s = parse_with("auto", {{"SLURM_ARRAY_TASK_ID", "2000005"}, {"SLURM_ARRAY_TASK_MIN", "2000000"},
                               {"SLURM_ARRAY_TASK_COUNT", "8"}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->index, 5u);
  EXPECT_EQ(s->count, 8u);
  s = parse_with("auto/4", {{"JOB_COMPLETION_INDEX", "4000000000"}});
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "0 to N-1")) << s.error().message();
}

TEST(ValidateShardSpec, SaysWhatIsWrongWithTheEnginesNumbers) {
  const env_map slurm = {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "3"}};
  // auto/N beside an array of another size: found here, not as a shard missing at the merge.
  auto r = parse_with("auto/4", slurm);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "SLURM_ARRAY_TASK_COUNT=3")) << r.error().message();
  EXPECT_TRUE(parse_with("auto/3", slurm));
  auto below = slurm;
  below["SLURM_ARRAY_TASK_ID"] = "0";
  r = parse_with("auto", below);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "SLURM_ARRAY_TASK_ID=0 is below SLURM_ARRAY_TASK_MIN=1")) << r.error().message();
  r = parse_with("0/4294967295", {});
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "N is at most 1000000")) << r.error().message();
}

TEST(ValidateShardSpec, AutoWithoutAnEngineSaysWhichVariablesItReads) {
  auto s = parse_with("auto/4", {});
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "JOB_COMPLETION_INDEX")) << s.error().message();
  EXPECT_TRUE(contains(s.error().message(), "SLURM_ARRAY_TASK_ID")) << s.error().message();
}

TEST(ValidateShardOf, FirstSixteenHexDigitsModuloN) {
  auto d = digest::parse("sha256:00000000000000ff" + std::string(48, '0'));
  ASSERT_TRUE(d);
  EXPECT_EQ(validate_shard_of(*d, 1), 0u);
  EXPECT_EQ(validate_shard_of(*d, 8), 255u % 8);
  EXPECT_EQ(validate_shard_of(*d, 10), 255u % 10);
  auto big = digest::parse("sha256:ffffffffffffffff" + std::string(48, 'a'));
  ASSERT_TRUE(big);
  EXPECT_EQ(validate_shard_of(*big, 7), static_cast<unsigned>(0xffffffffffffffffull % 7));
}

TEST(ValidateShardOf, SpreadsDigestsEvenly) {
  std::vector<int> counts(8);
  for (int i = 0; i < 4000; ++i) ++counts[validate_shard_of(sha256_of("blob " + std::to_string(i)), 8)];
  for (int c : counts) EXPECT_NEAR(c, 500, 100);
}

// ---- merge ----

// Every field of a validation, one per line: the comparison the merge must pass.
std::string everything(const std::vector<image_validation>& vs) {
  std::string s;
  for (const auto& v : vs) {
    s += v.ref + " valid=" + std::to_string(v.valid()) + " blobs=" + std::to_string(v.blobs) +
         " blob_bytes=" + std::to_string(v.blob_bytes) + " tar_bytes=" + std::to_string(v.tar_bytes) + "\n";
    if (v.failure) s += "  failure " + std::string(errc_name(v.failure->code())) + ": " + v.failure->message() + "\n";
    for (const auto& f : v.findings)
      s += "  " + f.rule + (f.error ? " error " : " warning ") + f.location + " | " + f.message + " | " +
           f.descriptor_path + " | " + f.digest + " | " + f.json_path + " | " + f.entry + "\n";
  }
  return s;
}

// Runs shard k of n of `refs` into file `path`.
void run_shard(const std::vector<image_reference>& refs, const validate_options& opts, unsigned k, unsigned n,
               const std::string& path) {
  std::string facts;
  auto ok = validate_shard_facts(refs, opts, {k, n}, [&](std::string_view line) -> result<void> {
    facts.append(line);
    facts.push_back('\n');
    return {};
  });
  ASSERT_TRUE(ok) << ok.error().message();
  write_bytes(path, facts);
}

std::vector<std::string> run_shards(const std::vector<image_reference>& refs, const validate_options& opts, unsigned n,
                                    const temp_dir& dir, const std::string& name = "facts") {
  std::vector<std::string> files;
  for (unsigned k = 0; k < n; ++k) {
    files.push_back(dir.sub(name + "-" + std::to_string(k) + "-of-" + std::to_string(n) + ".jsonl"));
    run_shard(refs, opts, k, n, files.back());
  }
  return files;
}

// Images whose verdicts need facts from several shards, and one of each kind of problem.
struct mixed_images {
  temp_dir tmp;
  std::vector<built_image> images;
  std::vector<image_reference> refs;

  mixed_images() {
    const auto base = layer({dir("usr/"), file("usr/a", "base a"), file("usr/lib.so", std::string(20000, 'L'))});
    // Valid: hardlinks into lower layers, which other shards check.
    images.push_back(build_layout(tmp.sub("links"), "t",
                                  {base, layer({file("other")}), layer({hardlink("usr/b", "usr/a")}),
                                   layer({hardlink("c", "usr/b")}, layer_compression::zstd)}));
    // Invalid: a hardlink to a path a lower layer's whiteout removed.
    images.push_back(build_layout(tmp.sub("whiteout"), "t",
                                  {base, layer({file("usr/.wh.a")}), layer({hardlink("b", "usr/a")})}));
    // Invalid: the same base, corrupted in this layout only.
    images.push_back(build_layout(tmp.sub("corrupt"), "t", {base, layer({file("x", "corrupt")})}));
    corrupt_layer_byte(images.back(), 1);
    // Invalid: a diff_id the config gets wrong.
    images.push_back(build_layout(tmp.sub("diffid"), "t", {base, layer({file("y", "diff")})}));
    set_wrong_diff_id(images.back(), 1);
    // Invalid: a missing blob.
    images.push_back(build_layout(tmp.sub("missing"), "t", {base, layer({file("z")})}));
    point_layer_at_missing_blob(images.back(), 1);
    // Invalid, with names that are not UTF-8 (JSON cannot carry them as strings).
    images.push_back(build_layout(tmp.sub("bytes"), "t", {base, layer({file("\xff\xfe"), hardlink("b\xff", "gone\xfe")})}));
    // Valid with warnings: a nested index with an attestation and an unknown media type.
    images.push_back(build_layout(tmp.sub("nested"), "t", three_layers()));
    nest_in_index(images.back());
    for (const auto& img : images) refs.push_back(img.ref());
    // A docker-archive (layers named by diff_id) and a reference that cannot be read.
    write_docker_archive(images[0], tmp.sub("saved.tar"));
    refs.push_back(*parse_reference("docker-archive:" + tmp.sub("saved.tar")));
    refs.push_back(*parse_reference("oci:" + tmp.sub("nothing-here") + ":t"));
  }
};

TEST(ValidateMerge, MergedVerdictsAreTheUnshardedOnesForEveryN) {
  mixed_images m;
  const auto plain = validate(m.refs, {});
  const auto want = everything(plain);
  ASSERT_TRUE(contains(want, "layer.tar.hardlink")) << want;
  ASSERT_TRUE(contains(want, "layer.diff_id")) << want;
  ASSERT_TRUE(contains(want, "blob.digest")) << want;
  ASSERT_TRUE(contains(want, "failure not_found")) << want;
  ASSERT_TRUE(contains(want, "b\xff")) << want;
  for (unsigned n : {1u, 2u, 3u, 8u}) {
    SCOPED_TRACE("N=" + std::to_string(n));
    temp_dir dir;
    auto files = run_shards(m.refs, {}, n, dir);
    std::reverse(files.begin(), files.end());  // any order
    validate_totals totals;
    auto merged = validate_merge(files, &totals);
    ASSERT_TRUE(merged) << merged.error().message();
    EXPECT_EQ(everything(*merged), want);
    validate_totals plain_totals;
    (void)validate(m.refs, {}, &plain_totals);
    EXPECT_EQ(totals.blobs, plain_totals.blobs);
    EXPECT_EQ(totals.blob_bytes, plain_totals.blob_bytes);
    EXPECT_EQ(totals.tar_bytes, plain_totals.tar_bytes);
  }
}

TEST(ValidateMerge, ImagesSpanShards) {
  // The test above proves something only if an image's layers fall to different shards.
  mixed_images m;
  const auto& links = m.images[0];
  std::set<unsigned> shards;
  for (const auto& l : links.layers) shards.insert(validate_shard_of(l.digest, 3));
  EXPECT_GE(shards.size(), 2u) << "the hardlink image's 4 layers all fall to one of 3 shards";
}

TEST(ValidateMerge, KeepsTheShardsOptions) {
  temp_dir tmp;
  const auto img = build_layout(tmp.sub("empty"), "t", {});
  validate_options strict;
  strict.strict = true;
  const auto want = everything(validate({img.ref()}, strict));
  ASSERT_TRUE(contains(want, "manifest.layers.empty error")) << want;
  temp_dir dir;
  auto merged = validate_merge(run_shards({img.ref()}, strict, 2, dir));
  ASSERT_TRUE(merged) << merged.error().message();
  EXPECT_EQ(everything(*merged), want);
}

struct two_images {
  temp_dir tmp;
  built_image a = build_layout(tmp.sub("a"), "t", three_layers());
  built_image b = build_layout(tmp.sub("b"), "t", {layer({file("b")})});
};

TEST(ValidateMerge, RefusesAMissingOrRepeatedShard) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 3, dir);
  auto missing = validate_merge({files[0], files[2]});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(missing.error().message(), "shard(s) 1 of 3")) << missing.error().message();
  auto twice = validate_merge({files[0], files[1], files[1], files[2]});
  ASSERT_FALSE(twice);
  EXPECT_TRUE(contains(twice.error().message(), "given twice")) << twice.error().message();
}

TEST(ValidateMerge, RefusesAShardCutShort) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 2, dir);
  auto lines = lines_of(read_bytes(files[1]));
  lines.pop_back();
  std::string cut;
  for (const auto& l : lines) cut += l + "\n";
  write_bytes(files[1], cut);
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_TRUE(contains(r.error().message(), files[1] + ":")) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "cut short")) << r.error().message();
}

TEST(ValidateMerge, RefusesShardsOfDifferentRuns) {
  two_images s;
  temp_dir dir;
  const auto one = run_shards({s.a.ref(), s.b.ref()}, {}, 2, dir, "one");
  const auto other = run_shards({s.a.ref()}, {}, 2, dir, "other");
  auto r = validate_merge({one[0], other[1]});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message(), "another run")) << r.error().message();
  validate_options all;
  all.all = true;
  const auto with_all = run_shards({s.a.ref(), s.b.ref()}, all, 2, dir, "all");
  EXPECT_FALSE(validate_merge({one[0], with_all[1]}));
}

TEST(ValidateMerge, RefusesShardsThatSawDifferentImages) {
  two_images s;
  temp_dir dir;
  const std::vector<image_reference> refs = {s.a.ref(), s.b.ref()};
  const std::string f0 = dir.sub("0.jsonl"), f1 = dir.sub("1.jsonl");
  run_shard(refs, {}, 0, 2, f0);
  set_wrong_diff_id(s.a, 0);  // the image changed between the two shards' runs
  run_shard(refs, {}, 1, 2, f1);
  auto r = validate_merge({f0, f1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message(), "walked the references differently")) << r.error().message();
}

TEST(ValidateMerge, RefusesBlobsInTheWrongShard) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 2, dir);
  // Swap the shard numbers: every blob fact now sits in the other shard.
  for (const auto& [from, to] : {std::pair{files[0], "\"shard\":0,"}, std::pair{files[1], "\"shard\":1,"}}) {
    auto text = read_bytes(from);
    const auto at = text.find(to);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string(to).size(), std::string(to) == "\"shard\":0," ? "\"shard\":1," : "\"shard\":0,");
    write_bytes(from, text);
  }
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_TRUE(contains(r.error().message(), "does not fall to this shard")) << r.error().message();
}

TEST(ValidateMerge, RefusesFilesThatAreNotFacts) {
  temp_dir dir;
  write_bytes(dir.sub("x.jsonl"), "{\"type\":\"summary\"}\n");
  auto r = validate_merge({dir.sub("x.jsonl")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_TRUE(contains(r.error().message(), "not the facts of a validate --shard run")) << r.error().message();
  write_bytes(dir.sub("empty.jsonl"), "");
  EXPECT_FALSE(validate_merge({dir.sub("empty.jsonl")}));
  auto none = validate_merge({dir.sub("absent.jsonl")});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::not_found);
  EXPECT_FALSE(validate_merge({}));
}

// Rewrites line `n` (1-based) of `path` with `edit`; an empty result removes the line.
void edit_line(const std::string& path, std::size_t n, const std::function<std::string(std::string)>& edit) {
  auto lines = lines_of(read_bytes(path));
  ASSERT_LE(n, lines.size());
  lines[n - 1] = edit(lines[n - 1]);
  std::string out;
  for (const auto& l : lines)
    if (!l.empty()) out += l + "\n";
  write_bytes(path, out);
}

// A line broken in transit is reported as that, at its file and line, never as the
// shards disagreeing about the images, even when another shard's copy of it is intact.
TEST(ValidateMerge, ABrokenLineIsNamedByFileAndLine) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 3, dir);
  for (const std::string broken : {"{\"fact\":\"image\",", "{\"fact\":\"bogus\"}", "[1,2]"}) {
    SCOPED_TRACE(broken);
    const auto copy = dir.sub("copy.jsonl");
    write_bytes(copy, read_bytes(files[1]));
    edit_line(copy, 2, [&](std::string) { return broken; });
    auto r = validate_merge({files[0], copy, files[2]});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::malformed);
    EXPECT_TRUE(contains(r.error().message(), copy + ":2:")) << r.error().message();
    EXPECT_FALSE(contains(r.error().message(), "walked")) << r.error().message();
  }
}

TEST(ValidateMerge, CountsItsLines) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 1, dir);
  const auto text = read_bytes(files[0]);
  // A line added before the end fact, and one after it.
  const auto lines = lines_of(text);
  std::string added;
  for (std::size_t n = 0; n < lines.size(); ++n) added += (n + 1 == lines.size() ? lines[1] + "\n" : "") + lines[n] + "\n";
  write_bytes(files[0], added);
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "lines were added or removed")) << r.error().message();
  write_bytes(files[0], text + lines[1] + "\n");
  r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "after the end fact")) << r.error().message();
  write_bytes(files[0], text + "\n");
  r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "empty line")) << r.error().message();
}

// Line ends rewritten on the way (CRLF) change no fact.
TEST(ValidateMerge, ReadsCrlfLines) {
  two_images s;
  temp_dir dir;
  const std::vector<image_reference> refs = {s.a.ref(), s.b.ref()};
  const auto files = run_shards(refs, {}, 2, dir);
  std::string crlf;
  for (const auto& l : lines_of(read_bytes(files[1]))) crlf += l + "\r\n";
  write_bytes(files[1], crlf);
  auto r = validate_merge(files);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(everything(*r), everything(validate(refs, {})));
}

// Without an image fact a reference's document findings would vanish: FAIL would become PASS.
TEST(ValidateMerge, RefusesFactsWithAReferenceLeftOut) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 1, dir);
  edit_line(files[0], 2, [](std::string) { return std::string(); });
  const auto lines = lines_of(read_bytes(files[0]));
  edit_line(files[0], lines.size(), [&](std::string) {
    return "{\"fact\":\"end\",\"lines\":" + std::to_string(lines.size() - 1) + "}";
  });
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message(), "no image fact for reference 0")) << r.error().message();
}

TEST(ValidateMerge, RefusesAUseOfNoReference) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 1, dir);
  const auto lines = lines_of(read_bytes(files[0]));
  const auto use = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return contains(l, "\"fact\":\"use\""); });
  ASSERT_NE(use, lines.end());
  edit_line(files[0], static_cast<std::size_t>(use - lines.begin()) + 1, [](std::string l) {
    return l.replace(l.find("\"image\":0"), 9, "\"image\":-1");
  });
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
}

TEST(ValidateMerge, ReadsFactsThroughASymlink) {
  two_images s;
  temp_dir dir;
  const std::vector<image_reference> refs = {s.a.ref(), s.b.ref()};
  const auto files = run_shards(refs, {}, 1, dir);
  ASSERT_EQ(::symlink(files[0].c_str(), dir.sub("link.jsonl").c_str()), 0);
  auto r = validate_merge({dir.sub("link.jsonl")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(everything(*r), everything(validate(refs, {})));
}

TEST(ValidateMerge, RefusesAFactWithAFieldMissing) {
  two_images s;
  temp_dir dir;
  const auto files = run_shards({s.a.ref(), s.b.ref()}, {}, 1, dir);
  auto text = read_bytes(files[0]);
  const auto at = text.find("\"tar_bytes\":");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"tar_bites\":");
  write_bytes(files[0], text);
  auto r = validate_merge(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::malformed);
  EXPECT_TRUE(contains(r.error().message(), files[0] + ":")) << r.error().message();
}

}  // namespace
}  // namespace ocipipe::testing
