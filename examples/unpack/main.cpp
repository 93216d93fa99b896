// unpack_image REF ROOTFS: unpacks an OCI image into a rootfs with libocipipe,
// printing progress events and one line per layer. An example of a program
// built against the installed package (find_package(ocipipe) or pkg-config
// ocipipe); tests/interop/install_test.cpp builds and runs it.
#include <ocipipe/api.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s REF ROOTFS   (REF: oci:DIR[:TAG], docker://…)\n", argv[0]);
    return 2;
  }
  auto ref = ocipipe::parse_reference(argv[1]);
  if (!ref) {
    std::fprintf(stderr, "unpack_image: %s\n", ref.error().message().c_str());
    return 2;
  }
  ocipipe::unpack_options opts;
  // Progress as data, from pipeline threads (never two calls at once).
  opts.progress = [](const ocipipe::progress_update& p) {
    if (p.finished_one) std::fprintf(stderr, "done %s (%llu of %llu bytes)\n", p.current.c_str(),
                                     static_cast<unsigned long long>(p.done_bytes),
                                     static_cast<unsigned long long>(p.total_bytes));
  };
  auto report = ocipipe::unpack(*ref, argv[2], opts);
  if (!report) {
    std::fprintf(stderr, "unpack_image: %s [%s]\n", report.error().message().c_str(),
                 std::string(ocipipe::errc_name(report.error().code())).c_str());
    return 2;
  }
  for (const auto& l : report->layers)
    std::printf("layer %zu %s: %llu entries, %llu tar bytes\n", l.index, l.layer.digest.str().c_str(),
                static_cast<unsigned long long>(l.entries), static_cast<unsigned long long>(l.tar_bytes));
  std::printf("unpacked %s into %s: %zu layers\n", report->image.manifest_descriptor.digest.str().c_str(), argv[2],
              report->layers.size());
  return 0;
}
