#pragma once
// `ocipipe bench`: what this host can do, per core and on all cores, for the
// work unpack and validate consist of (digests, inflate, tar parsing, file
// creation, the whole unpack graph), on generated data (stages/synthetic_tree.h),
// so it runs on any host without datasets. Each measurement runs the project's
// own stage code where there is one, so the numbers are what ocipipe gets.
// The floor these rates imply for an image is pipeline/bench_floor.h.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/api.h"
#include "pipeline/bench_floor.h"

namespace ocipipe::pipeline {

/// The host the numbers belong to.
struct host_info {
  std::string cpu_model;  ///< /proc/cpuinfo "model name" (or the arch's equivalent); "unknown"
  int online_cpus = 0;    ///< sysconf(_SC_NPROCESSORS_ONLN)
  int threads = 0;        ///< the "all cores" column's thread count
  std::string kernel;     ///< uname: "Linux 6.1.0-18-amd64"
  std::string version;    ///< ocipipe's version
};

/// Describes this host; `threads` <= 0 means online_cpus. Never fails (unknown
/// fields say "unknown").
[[nodiscard]] host_info describe_host(int threads);

/// One row of the table. `single` is one thread; `all` is `threads`
/// independent streams, one per thread, their rates summed (unpack_graph:
/// one unpack with -j1 and one with -j `threads`).
struct bench_row {
  std::string name;    ///< "sha256", "file_create_bytes", …
  std::string engine;  ///< which code ran: "OpenSSL EVP (stages/digester) …"
  std::string unit;    ///< "bytes/s", "files/s" or "entries/s"
  double single = 0;
  double all = 0;
  int threads = 1;
  std::string note;  ///< extra human detail (unpack_graph's wall seconds); not in --json
};

/// The measurements, in table order: sha256, sha512, inflate_isal (or
/// inflate_zlib, gzip_inflate_measurement()), inflate_libdeflate, zstd,
/// tar_parse (rows tar_parse, tar_parse_entries), file_create (rows
/// file_create, file_create_bytes), unpack_graph.
[[nodiscard]] const std::vector<std::string>& bench_measurement_names();

/// The measurement of the gzip inflater unpack uses: "inflate_isal", or
/// "inflate_zlib" in a build without ISA-L (stages/decompress.h).
[[nodiscard]] const std::string& gzip_inflate_measurement();

struct host_bench_options {
  /// Where file_create and unpack_graph write: an existing directory. One
  /// "ocipipe-bench-XXXXXX" directory is made in it and removed with all it
  /// holds before run_host_bench returns, on success, error and cancel alike.
  std::string dir;
  double seconds = 1.0;  ///< timed per measurement and per column
  int threads = 0;       ///< the "all cores" column; 0 = online CPUs
  /// Measurement (or row) names to run; empty = all. Unknown names are
  /// `invalid_argument`.
  std::vector<std::string> only;
  /// Bytes of generated input per in-memory measurement (digest, inflate,
  /// zstd, tar); the unpack_graph image holds twice this. Tests use ~1 MiB.
  std::uint64_t data_bytes = std::uint64_t{32} << 20;
  /// Told the name of each measurement as it starts (for progress lines);
  /// called on the calling thread. Optional.
  std::function<void(std::string_view name)> on_start;
  /// Set from any thread to stop: the run ends with `cancelled`. Optional.
  const std::atomic<bool>* cancel = nullptr;
};

/// Runs the measurements of `opts` in order; each is checked for correctness
/// once (a known digest, inflate output equal to its input, tar entries and
/// bytes as written, a file read back, an unpacked tree as packed) before it
/// is timed, and a failed check is an error, never a number. Errors:
/// `invalid_argument` (dir missing or not a directory, an unknown --only
/// name, seconds <= 0), `malformed` ("NAME: check: …" when a check fails),
/// `io`, `cancelled`, and those of pack/unpack for unpack_graph.
[[nodiscard]] result<std::vector<bench_row>> run_host_bench(const host_bench_options& opts);

/// --- the timing harness, public for its tests ---------------------------

/// What one step of a stream did: `units` counts the row's unit (bytes),
/// `items` a second one (files, entries); `untimed_seconds` of the step's
/// wall time were cleanup that the rate must not count.
struct work_done {
  std::uint64_t units = 0;
  std::uint64_t items = 0;
  double untimed_seconds = 0;
};
/// One step of a stream; called repeatedly on the stream's own thread.
using bench_step = std::function<result<work_done>()>;

/// A measurement: `check` runs once before any timing (a failure ends the
/// measurement with that error); `make_stream(i)` builds stream i's state
/// (buffers, directories) untimed, on the thread that will run it.
struct workload {
  std::function<result<void>()> check;
  std::function<result<bench_step>(int stream)> make_stream;
};

/// Rates of all streams together: the sum over streams of units (items)
/// per timed second of that stream.
struct stream_rates {
  double units_per_second = 0;
  double items_per_second = 0;
};

/// Runs `threads` streams of `w` at once, each stepping until `seconds` of
/// wall time passed (at least one step). Does not run `check`. Errors: the
/// first error of any stream's make_stream or step, `cancelled`.
[[nodiscard]] result<stream_rates> run_streams(const workload& w, int threads, double seconds,
                                               const std::atomic<bool>* cancel = nullptr);

/// check (a failure is "NAME: check: …", and nothing is timed), then
/// run_streams on 1 thread and on `threads` (errors "NAME: …"): the two
/// columns of a row (the same numbers twice when `threads` is 1).
[[nodiscard]] result<std::pair<stream_rates, stream_rates>> run_measurement(std::string_view name, const workload& w,
                                                                            int threads, double seconds,
                                                                            const std::atomic<bool>* cancel = nullptr);

/// --- the floor's inputs ---------------------------------------------------

/// Streams every layer of `ref` once (digest, decompress, diff_id, tar
/// parse; untimed) and returns its sizes for compute_floor. Digests are
/// checked against the image's. Errors: those of resolve_image, of the
/// layers' streams (`digest_mismatch`, `malformed`, `unsupported`).
[[nodiscard]] result<std::vector<floor_layer>> measure_image_layers(const image_reference& ref,
                                                                    const platform_selector& platform = {});

/// The measurements compute_floor needs for `layers`: sha256, tar_parse,
/// file_create, and gzip_inflate_measurement() / zstd when a layer is gzip / zstd.
[[nodiscard]] std::vector<std::string> floor_measurements(const std::vector<floor_layer>& layers);

/// The single-thread rates of `rows` as compute_floor takes them, with N = `threads`.
[[nodiscard]] floor_rates floor_rates_of(const std::vector<bench_row>& rows, int threads);

}  // namespace ocipipe::pipeline
