// Sharded validate (issue 11): a shard walks every reference (the documents
// are small and name the blobs) and checks the distinct blobs that fall to it;
// it writes what the merge needs as JSON Lines facts. The merge rebuilds the
// run from the facts and finishes it with the same code an unsharded run
// uses (validate_run.h step 3), so its verdicts are the unsharded ones by
// construction. Fact format: README "Sharded validation".

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "io/small_file.h"
#include "pipeline/api.h"
#include "pipeline/validate_run.h"
#include "stages/base64.h"

namespace ocipipe {
namespace {

using json = nlohmann::ordered_json;
using pipeline::blob_job;

constexpr std::string_view facts_format = "ocipipe.validate.facts/1";
// A shard's facts hold each of its layers' path hashes (8 bytes an entry, in
// base64): a mirror of millions of entries is tens of MB per shard.
constexpr std::size_t max_facts_file_bytes = std::size_t{4} << 30;

// ---- --shard ----

// More shards than this is a typing mistake, not a mirror.
constexpr unsigned max_shards = 1000000;

// A decimal number of up to 18 digits (Slurm task ids may be large; only K
// and N are bounded, by the checks that use them).
std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::optional<std::string> process_env(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// ---- facts out ----

// Tar entry names, and the messages that quote them, are bytes, not always
// UTF-8, which JSON cannot carry: such a text is written {"base64": …}, so the
// merge reports it byte for byte as an unsharded run does.
json text(const std::string& s) {
  try {
    (void)json(s).dump();
    return s;
  } catch (const json::type_error&) {
    return json{{"base64", base64_encode(s)}};
  }
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  auto bytes = base64_decode(v.at("base64").get<std::string>());
  if (!bytes) throw std::invalid_argument("a text's base64 is not base64");
  return std::move(*bytes);
}

std::string pack_hashes(const std::vector<std::uint64_t>& hashes) {
  std::string bytes(hashes.size() * 8, '\0');
  for (std::size_t i = 0; i < hashes.size(); ++i)
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<char>((hashes[i] >> (8 * b)) & 0xff);
  return base64_encode(bytes);
}

json finding_fact(const finding& f) {
  return {{"rule", text(f.rule)},         {"error", f.error},
          {"location", text(f.location)}, {"message", text(f.message)},
          {"descriptor_path", text(f.descriptor_path)}, {"digest", text(f.digest)},
          {"json_path", text(f.json_path)}, {"entry", text(f.entry)}};
}

json run_fact(const std::vector<image_reference>& refs, const validate_options& opts, const validate_shard& shard,
              const pipeline::run_state& run) {
  json j = {{"fact", "run"}, {"format", facts_format}, {"shard", shard.index}, {"shards", shard.count}};
  j["refs"] = json::array();
  for (const auto& r : refs) j["refs"].push_back(text(r.str()));
  j["all"] = opts.all;
  j["strict"] = opts.strict;
  j["jobs"] = run.jobs.size();
  j["uses"] = run.uses.size();
  j["stacks"] = run.stacks.size();
  j["documents"] = run.documents;
  j["document_bytes"] = run.document_bytes;
  return j;
}

json image_fact(std::size_t i, const image_validation& img) {
  json j = {{"fact", "image"}, {"image", i}, {"ref", text(img.ref)}};
  j["failure"] = img.failure ? json{{"code", errc_name(img.failure->code())}, {"message", text(img.failure->message())}}
                             : json(nullptr);
  j["blobs"] = img.blobs;
  j["blob_bytes"] = img.blob_bytes;
  j["findings"] = json::array();
  for (const auto& f : img.findings) j["findings"].push_back(finding_fact(f));
  return j;
}

json use_fact(const pipeline::blob_use& u) {
  return {{"fact", "use"},
          {"image", u.image},
          {"job", u.job},
          {"path", text(u.at.path)},
          {"digest", u.at.digest},
          {"want_diff_id", u.want_diff_id ? json(u.want_diff_id->str()) : json(nullptr)}};
}

json blob_fact(std::size_t j, const blob_job& job) {
  json f = {{"fact", "blob"},
            {"job", j},
            {"digest", job.desc.digest.str()},
            {"size", job.desc.size},
            {"media_type", job.desc.media_type},
            {"layer", job.is_layer},
            {"digest_is_diff_id", job.digest_is_diff_id},
            {"diff_id_algorithm", job.diff_id_algorithm == digest_algorithm::sha512 ? "sha512" : "sha256"}};
  f["problems"] = json::array();
  for (const auto& p : job.problems)
    f["problems"].push_back({{"rule", text(p.rule)}, {"error", p.error}, {"entry", text(p.entry)}, {"message", text(p.message)}});
  f["diff_id"] = job.diff_id ? json(job.diff_id->str()) : json(nullptr);
  f["compressed_bytes"] = job.compressed_bytes;
  f["tar_bytes"] = job.tar_bytes;
  f["path_hashes"] = pack_hashes(job.path_hashes);
  f["dir_hashes"] = pack_hashes(job.dir_hashes);
  f["symlink_hashes"] = pack_hashes(job.symlink_hashes);
  f["whiteout_hashes"] = pack_hashes(job.whiteout_hashes);
  f["opaque_hashes"] = pack_hashes(job.opaque_hashes);
  f["open_hardlinks"] = json::array();
  for (const auto& [entry, target] : job.open_hardlinks) f["open_hardlinks"].push_back({text(entry), text(target)});
  return f;
}

// ---- facts in ----

// A fact file's failure: file and line, then what.
error bad_fact(const std::string& file, std::size_t line, const std::string& what) {
  return error(errc::malformed, file + ":" + std::to_string(line) + ": " + what);
}

result<std::vector<std::uint64_t>> unpack_hashes(const json& v) {
  auto bytes = base64_decode(v.get<std::string>());
  if (!bytes || bytes->size() % 8 != 0) return tl::unexpected(error(errc::malformed, "a hash list is not base64 of 8-byte values"));
  std::vector<std::uint64_t> out(bytes->size() / 8);
  for (std::size_t i = 0; i < out.size(); ++i)
    for (int b = 0; b < 8; ++b)
      out[i] |= static_cast<std::uint64_t>(static_cast<unsigned char>((*bytes)[i * 8 + b])) << (8 * b);
  if (!std::is_sorted(out.begin(), out.end()))
    return tl::unexpected(error(errc::malformed, "a hash list is not sorted"));
  return out;
}

result<digest> digest_of(const json& v) {
  return digest::parse(v.get<std::string>());
}

std::optional<errc> errc_of(std::string_view name) {
  for (int c = 0; c <= static_cast<int>(errc::internal); ++c)
    if (errc_name(static_cast<errc>(c)) == name) return static_cast<errc>(c);
  return std::nullopt;
}

finding finding_of(const json& f) {
  finding out{text_of(f.at("rule")), f.at("error").get<bool>(), text_of(f.at("location")), text_of(f.at("message"))};
  out.descriptor_path = text_of(f.at("descriptor_path"));
  out.digest = text_of(f.at("digest"));
  out.json_path = text_of(f.at("json_path"));
  out.entry = text_of(f.at("entry"));
  return out;
}

// An image fact; `seen` marks the references that have theirs.
result<void> read_image(const json& f, pipeline::validate_run& r, std::vector<bool>& seen) {
  const auto i = f.at("image").get<std::size_t>();
  if (i >= r.images.size()) return tl::unexpected(error(errc::malformed, "image " + std::to_string(i) + " is not a reference of the run"));
  if (seen[i]) return tl::unexpected(error(errc::malformed, "a second image fact for reference " + std::to_string(i)));
  seen[i] = true;
  auto& img = r.images[i];
  if (text_of(f.at("ref")) != img.ref)
    return tl::unexpected(error(errc::malformed, "image " + std::to_string(i) + " is not " + quote(img.ref)));
  if (!f.at("failure").is_null()) {
    const auto& e = f.at("failure");
    auto code = errc_of(e.at("code").get<std::string>());
    if (!code) return tl::unexpected(error(errc::malformed, "unknown error code " + quote(e.at("code").get<std::string>())));
    img.failure = error(*code, text_of(e.at("message")));
  }
  img.blobs = f.at("blobs").get<std::uint64_t>();
  img.blob_bytes = f.at("blob_bytes").get<std::uint64_t>();
  for (const auto& x : f.at("findings")) img.findings.push_back(finding_of(x));
  return {};
}

result<void> read_use(const json& f, pipeline::run_state& run, std::size_t images) {
  pipeline::blob_use u;
  u.image = f.at("image").get<std::size_t>();
  u.job = f.at("job").get<std::size_t>();
  u.at = {text_of(f.at("path")), f.at("digest").get<std::string>()};
  if (!f.at("want_diff_id").is_null()) {
    OCIPIPE_ASSIGN_OR_RETURN(auto d, digest_of(f.at("want_diff_id")));
    u.want_diff_id = std::move(d);
  }
  if (u.job >= run.jobs.size()) return tl::unexpected(error(errc::malformed, "use of job " + std::to_string(u.job) + ", past the run's jobs"));
  if (u.image >= images)
    return tl::unexpected(error(errc::malformed, "a use by image " + std::to_string(u.image) + ", past the run's references"));
  run.uses.push_back(std::move(u));
  return {};
}

result<void> read_stack(const json& f, pipeline::run_state& run) {
  pipeline::layer_stack s;
  for (const auto& u : f.at("uses")) {
    s.uses.push_back(u.get<std::size_t>());
    if (s.uses.back() >= run.uses.size()) return tl::unexpected(error(errc::malformed, "a stack names a use not read yet"));
  }
  run.stacks.push_back(std::move(s));
  return {};
}

result<std::size_t> read_blob(const json& f, pipeline::run_state& run) {
  const auto j = f.at("job").get<std::size_t>();
  if (j >= run.jobs.size()) return tl::unexpected(error(errc::malformed, "job " + std::to_string(j) + " is past the run's jobs"));
  blob_job job;
  OCIPIPE_ASSIGN_OR_RETURN(job.desc.digest, digest_of(f.at("digest")));
  job.desc.size = f.at("size").get<std::int64_t>();
  job.desc.media_type = f.at("media_type").get<std::string>();
  job.is_layer = f.at("layer").get<bool>();
  job.digest_is_diff_id = f.at("digest_is_diff_id").get<bool>();
  job.diff_id_algorithm =
      f.at("diff_id_algorithm").get<std::string>() == "sha512" ? digest_algorithm::sha512 : digest_algorithm::sha256;
  for (const auto& p : f.at("problems"))
    job.problems.push_back({text_of(p.at("rule")), p.at("error").get<bool>(), text_of(p.at("entry")),
                            text_of(p.at("message"))});
  if (!f.at("diff_id").is_null()) {
    OCIPIPE_ASSIGN_OR_RETURN(auto d, digest_of(f.at("diff_id")));
    job.diff_id = std::move(d);
  }
  job.compressed_bytes = f.at("compressed_bytes").get<std::uint64_t>();
  job.tar_bytes = f.at("tar_bytes").get<std::uint64_t>();
  OCIPIPE_ASSIGN_OR_RETURN(job.path_hashes, unpack_hashes(f.at("path_hashes")));
  OCIPIPE_ASSIGN_OR_RETURN(job.dir_hashes, unpack_hashes(f.at("dir_hashes")));
  OCIPIPE_ASSIGN_OR_RETURN(job.symlink_hashes, unpack_hashes(f.at("symlink_hashes")));
  OCIPIPE_ASSIGN_OR_RETURN(job.whiteout_hashes, unpack_hashes(f.at("whiteout_hashes")));
  OCIPIPE_ASSIGN_OR_RETURN(job.opaque_hashes, unpack_hashes(f.at("opaque_hashes")));
  for (const auto& h : f.at("open_hardlinks"))
    job.open_hardlinks.emplace_back(text_of(h.at(0)), text_of(h.at(1)));
  run.jobs[j] = std::move(job);
  return j;
}

// One shard's file, read and parsed: its run fact, its walk (the image, use
// and stack facts, which every shard of one run writes alike, as text to
// compare) and every fact between the run and end facts.
struct shard_file {
  std::string path;
  json run;
  std::string walk;
  std::vector<json> facts;  // facts[n] is line n + 2 of the file
};

bool is_run_fact(const json& j) {
  const auto number = [&](const char* key) { return j.contains(key) && j[key].is_number_unsigned(); };
  if (j.is_discarded() || !j.is_object() || j.value("fact", json()) != "run" || j.value("format", json()) != facts_format)
    return false;
  if (!number("shard") || !number("shards") || !number("jobs") || !number("uses") || !number("stacks") ||
      !number("documents") || !number("document_bytes") || !j.contains("refs") || !j["refs"].is_array() ||
      !j.contains("all") || !j["all"].is_boolean() || !j.contains("strict") || !j["strict"].is_boolean())
    return false;
  return std::all_of(j["refs"].begin(), j["refs"].end(),
                     [](const json& r) { return r.is_string() || (r.is_object() && r.contains("base64")); });
}

// Every line is parsed before anything is compared across shards, so a line
// broken in transit is reported as that, with its file and line.
result<shard_file> read_shard_file(const std::string& path) {
  OCIPIPE_ASSIGN_OR_RETURN(auto text, io::read_linked_file(path, max_facts_file_bytes));
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line(text, start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  text.clear();
  if (lines.empty()) return tl::unexpected(error(errc::malformed, path + ": empty; not the facts of a validate --shard run"));
  shard_file s{path, json::parse(lines.front(), nullptr, false), {}, {}};
  if (!is_run_fact(s.run))
    return tl::unexpected(bad_fact(path, 1, "not the facts of a validate --shard run (the first line must be a run fact of format " +
                                                std::string(facts_format) + ")"));
  std::optional<std::size_t> end_at;
  for (std::size_t n = 1; n < lines.size(); ++n) {
    if (lines[n].empty()) return tl::unexpected(bad_fact(path, n + 1, "an empty line"));
    auto f = json::parse(lines[n], nullptr, false);
    if (f.is_discarded() || !f.is_object() || !f.contains("fact") || !f["fact"].is_string())
      return tl::unexpected(bad_fact(path, n + 1, "not a fact (a JSON object with a \"fact\" member)"));
    const auto kind = f["fact"].get<std::string>();
    if (end_at) return tl::unexpected(bad_fact(path, n + 1, "a line after the end fact"));
    if (kind == "end") {
      end_at = n;
      if (f.value("lines", json()) != n)
        return tl::unexpected(bad_fact(path, n + 1, "the end fact counts " + f.value("lines", json()).dump() +
                                                        " lines before it, the file has " + std::to_string(n) +
                                                        ": lines were added or removed"));
      continue;
    }
    if (kind != "image" && kind != "use" && kind != "stack" && kind != "blob")
      return tl::unexpected(bad_fact(path, n + 1, "unknown fact " + quote(kind)));
    if (kind != "blob") s.walk += lines[n] + "\n";
    s.facts.push_back(std::move(f));
  }
  if (!end_at)
    return tl::unexpected(bad_fact(path, lines.size(), "the facts end without their end fact: the shard's run was cut short"));
  return s;
}

// What every shard of one run was asked: the same references, options and N.
json run_question(const json& run) {
  return {run["format"], run["refs"], run["all"], run["strict"], run["shards"]};
}

// What every shard's walk of the same, unchanged images found.
json run_walk_counts(const json& run) {
  return {run["jobs"], run["uses"], run["stacks"], run["documents"], run["document_bytes"]};
}

}  // namespace

result<validate_shard> parse_validate_shard(std::string_view text,
                                            const std::function<std::optional<std::string>(std::string_view)>& env) {
  const auto lookup = env ? env : process_env;
  const auto bad = [&](const std::string& why) {
    return tl::unexpected(error(errc::invalid_argument, "--shard " + quote(text) + ": " + why));
  };
  const auto slash = text.find('/');
  const std::string_view k_text = text.substr(0, slash);
  const std::string_view n_text = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  if (slash == std::string_view::npos && text != "auto") return bad("expected K/N, auto/N or auto");
  std::uint64_t count = 0, index = 0;
  if (text == "auto") {
    auto env_count = lookup("SLURM_ARRAY_TASK_COUNT");
    if (!env_count)
      return bad("N comes from SLURM_ARRAY_TASK_COUNT (a Slurm job array), which is not set; give it as auto/N "
                 "(a Kubernetes Indexed Job: its completions)");
    auto n = parse_count(*env_count);
    if (!n) return bad("SLURM_ARRAY_TASK_COUNT=" + quote(*env_count) + " is not a count");
    count = *n;
  } else {
    auto n = parse_count(n_text);
    if (!n) return bad("N " + quote(n_text) + " is not a count");
    count = *n;
  }
  if (count == 0) return bad("N must be at least 1");
  if (count > max_shards) return bad("N is at most " + std::to_string(max_shards));
  if (k_text == "auto") {
    if (auto k = lookup("JOB_COMPLETION_INDEX")) {
      auto v = parse_count(*k);
      if (!v) return bad("JOB_COMPLETION_INDEX=" + quote(*k) + " is not an index");
      index = *v;
    } else if (auto id = lookup("SLURM_ARRAY_TASK_ID")) {
      // Arrays may start anywhere and step (--array=1-8, --array=0-28:4): K is
      // the task's place in the array.
      auto v = parse_count(*id);
      if (!v) return bad("SLURM_ARRAY_TASK_ID=" + quote(*id) + " is not an index");
      std::uint64_t first = 0, step = 1;
      if (auto min = lookup("SLURM_ARRAY_TASK_MIN")) {
        auto m = parse_count(*min);
        if (!m) return bad("SLURM_ARRAY_TASK_MIN=" + quote(*min) + " is not an index");
        if (*m > *v) return bad("SLURM_ARRAY_TASK_ID=" + *id + " is below SLURM_ARRAY_TASK_MIN=" + *min);
        first = *m;
      }
      if (auto st = lookup("SLURM_ARRAY_TASK_STEP")) {
        auto m = parse_count(*st);
        if (!m || *m == 0) return bad("SLURM_ARRAY_TASK_STEP=" + quote(*st) + " is not a step");
        step = *m;
      }
      if ((*v - first) % step != 0)
        return bad("SLURM_ARRAY_TASK_ID=" + *id + " is not on the array's step " + std::to_string(step) + " from " +
                   std::to_string(first));
      index = (*v - first) / step;
      // auto/N beside a Slurm array: the two counts must agree.
      if (auto env_count = lookup("SLURM_ARRAY_TASK_COUNT"); env_count && text != "auto" && parse_count(*env_count) != count)
        return bad("N is " + std::to_string(count) + " but SLURM_ARRAY_TASK_COUNT=" + *env_count +
                   ": every task of the array is a shard");
    } else {
      return bad("K comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job "
                 "array), and neither is set");
    }
  } else {
    auto k = parse_count(k_text);
    if (!k) return bad("K " + quote(k_text) + " is not an index");
    index = *k;
  }
  if (index >= count)
    return bad("shard " + std::to_string(index) + " of " + std::to_string(count) + ": K counts from 0 to N-1");
  return validate_shard{static_cast<unsigned>(index), static_cast<unsigned>(count)};
}

unsigned validate_shard_of(const digest& d, unsigned count) {
  if (count <= 1 || d.empty()) return 0;
  std::uint64_t h = 0;
  const auto enc = d.encoded();
  if (d.algorithm() != digest_algorithm::unregistered && enc.size() >= 16) {
    for (char c : enc.substr(0, 16)) h = h << 4 | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  } else {
    h = 14695981039346656037ull;  // FNV-1a 64 of the whole digest: any algorithm's text
    for (unsigned char c : d.str()) h = (h ^ c) * 1099511628211ull;
  }
  return static_cast<unsigned>(h % count);
}

result<void> validate_shard_facts(const std::vector<image_reference>& refs, const validate_options& opts,
                                  const validate_shard& shard,
                                  const std::function<result<void>(std::string_view)>& emit,
                                  validate_totals* totals) {
  if (shard.count == 0 || shard.index >= shard.count)
    return tl::unexpected(error(errc::invalid_argument, "shard " + std::to_string(shard.index) + " of " +
                                                            std::to_string(shard.count) + ": K counts from 0 to N-1"));
  const auto start = std::chrono::steady_clock::now();
  pipeline::validate_run r(opts.remote);
  pipeline::walk_references(refs, opts, r);
  const auto mine = [&](const blob_job& job) { return validate_shard_of(job.desc.digest, shard.count) == shard.index; };
  pipeline::check_blobs(r.run, opts, mine);

  std::size_t lines = 0;
  const auto put = [&](const json& j) -> result<void> {
    ++lines;
    return emit(j.dump(-1, ' ', false, json::error_handler_t::replace));
  };
  OCIPIPE_TRY(put(run_fact(refs, opts, shard, r.run)));
  for (std::size_t i = 0; i < r.images.size(); ++i) OCIPIPE_TRY(put(image_fact(i, r.images[i])));
  for (const auto& u : r.run.uses) OCIPIPE_TRY(put(use_fact(u)));
  for (const auto& s : r.run.stacks) OCIPIPE_TRY(put(json{{"fact", "stack"}, {"uses", s.uses}}));
  validate_totals t;
  for (std::size_t j = 0; j < r.run.jobs.size(); ++j) {
    const auto& job = r.run.jobs[j];
    if (!mine(job)) continue;
    OCIPIPE_TRY(put(blob_fact(j, job)));
    ++t.blobs;
    t.blob_bytes += job.compressed_bytes;
    t.tar_bytes += job.tar_bytes;
  }
  OCIPIPE_TRY(emit(json{{"fact", "end"}, {"lines", lines}}.dump()));
  if (totals) {
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    *totals = t;
  }
  return {};
}

result<std::vector<image_validation>> validate_merge(const std::vector<std::string>& fact_files,
                                                     validate_totals* totals) {
  const auto start = std::chrono::steady_clock::now();
  if (fact_files.empty()) return tl::unexpected(error(errc::invalid_argument, "validate --merge needs the facts of every shard"));
  std::vector<shard_file> shards;
  for (const auto& path : fact_files) {
    OCIPIPE_ASSIGN_OR_RETURN(auto s, read_shard_file(path));
    shards.push_back(std::move(s));
  }
  // One run, every shard once, every walk alike.
  const auto& first = shards.front();
  const auto count = first.run["shards"].get<unsigned>();
  std::vector<const shard_file*> by_index(count, nullptr);
  for (const auto& s : shards) {
    if (run_question(s.run) != run_question(first.run))
      return tl::unexpected(error(errc::invalid_argument, s.path + " is the facts of another run than " + first.path +
                                                              " (references, options or shard count differ)"));
    const auto k = s.run["shard"].get<unsigned>();
    if (k >= count) return tl::unexpected(bad_fact(s.path, 1, "shard number out of range"));
    if (by_index[k])
      return tl::unexpected(error(errc::invalid_argument, "shard " + std::to_string(k) + " of " + std::to_string(count) +
                                                              " is given twice: " + by_index[k]->path + " and " + s.path));
    by_index[k] = &s;
  }
  std::string missing;
  for (unsigned k = 0; k < count; ++k)
    if (!by_index[k]) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
  if (!missing.empty())
    return tl::unexpected(error(errc::invalid_argument, "the facts of shard(s) " + missing + " of " + std::to_string(count) +
                                                            " are missing: a merge needs every shard"));
  const auto& base = *by_index[0];
  for (const auto* s : by_index)
    if (s->walk != base.walk || run_walk_counts(s->run) != run_walk_counts(base.run))
      return tl::unexpected(error(errc::invalid_argument, s->path + " and " + base.path +
                                                              " walked the references differently: the images changed "
                                                              "between the shards' runs; run every shard again"));

  // The walk (shard 0's; all are equal), then every shard's blobs.
  pipeline::validate_run r(remote_options{});
  const auto& run = base.run;
  r.images.resize(run["refs"].size());
  for (std::size_t i = 0; i < r.images.size(); ++i) r.images[i].ref = text_of(run["refs"][i]);
  r.run.jobs.resize(run["jobs"].get<std::size_t>());
  r.run.documents = run["documents"].get<std::uint64_t>();
  r.run.document_bytes = run["document_bytes"].get<std::uint64_t>();
  std::vector<int> seen(r.run.jobs.size(), -1);
  std::vector<bool> image_seen(r.images.size(), false);
  for (unsigned k = 0; k < count; ++k) {
    const auto& s = *by_index[k];
    for (std::size_t n = 0; n < s.facts.size(); ++n) {
      const auto& f = s.facts[n];
      const auto kind = f["fact"].get<std::string>();
      if (kind != "blob" && k != 0) continue;
      result<void> ok;
      try {
        if (kind == "image") {
          ok = read_image(f, r, image_seen);
        } else if (kind == "use") {
          ok = read_use(f, r.run, r.images.size());
        } else if (kind == "stack") {
          ok = read_stack(f, r.run);
        } else {
          auto j = read_blob(f, r.run);
          if (!j) {
            ok = tl::unexpected(std::move(j).error());
          } else if (seen[*j] >= 0) {
            ok = tl::unexpected(error(errc::malformed, "job " + std::to_string(*j) + " is in shard " +
                                                           std::to_string(seen[*j]) + " too"));
          } else if (validate_shard_of(r.run.jobs[*j].desc.digest, count) != k) {
            ok = tl::unexpected(error(errc::malformed, "blob " + r.run.jobs[*j].desc.digest.str() +
                                                           " does not fall to this shard"));
          } else {
            seen[*j] = static_cast<int>(k);
          }
        }
      } catch (const nlohmann::json::exception& e) {
        ok = tl::unexpected(error(errc::malformed, std::string("a field is missing or of the wrong type: ") + e.what()));
      } catch (const std::invalid_argument& e) {
        ok = tl::unexpected(error(errc::malformed, e.what()));
      }
      if (!ok) return tl::unexpected(bad_fact(s.path, n + 2, ok.error().message()));
    }
  }
  for (std::size_t i = 0; i < image_seen.size(); ++i)
    if (!image_seen[i])
      return tl::unexpected(bad_fact(base.path, 1, "no image fact for reference " + std::to_string(i) + " (" +
                                                       quote(r.images[i].ref) + ")"));
  if (r.run.uses.size() != run["uses"].get<std::size_t>() || r.run.stacks.size() != run["stacks"].get<std::size_t>())
    return tl::unexpected(bad_fact(base.path, 1, "the run fact's counts of uses and stacks disagree with the facts"));
  for (std::size_t j = 0; j < seen.size(); ++j)
    if (seen[j] < 0)
      return tl::unexpected(error(errc::malformed, "job " + std::to_string(j) + " (a blob the walk found) is in no shard's facts"));

  return pipeline::finish_run(r, start, totals);
}

}  // namespace ocipipe
