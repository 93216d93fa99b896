// stages/layer_stream: its contract with the hooks pipeline/ gives it.

#include "stages/layer_stream.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "tests/support/image_builder.h"

namespace ocipipe::testing {
namespace {

byte_view view_of(const std::string& s) { return byte_view(reinterpret_cast<const std::byte*>(s.data()), s.size()); }

// What pipeline's prefetch_source may do: its thread goes on calling `see` on a chunk until
// the source is destroyed (stop and join happen in its destructor).
class sees_until_destroyed final : public byte_source {
 public:
  sees_until_destroyed(std::unique_ptr<byte_source> inner, std::function<void(byte_view)> see)
      : inner_(std::move(inner)), see_(std::move(see)) {}
  ~sees_until_destroyed() override { see_(view_of(last_)); }
  result<byte_view> next() override {
    OCIPIPE_ASSIGN_OR_RETURN(auto c, inner_->next());
    see_(c);
    last_.assign(reinterpret_cast<const char*>(c.data()), c.size());
    return c;
  }

 private:
  std::unique_ptr<byte_source> inner_;
  std::function<void(byte_view)> see_;
  std::string last_;
};

// A layer dropped mid-stream (unpack's apply failing with ENOSPC) destroyed its diff_id
// digest before the source whose thread was still feeding it: unpack -j2 died in
// EVP_DigestUpdate, 7 runs in 200 into a full tmpfs.
TEST(LayerStream, ASeeingDecoratorsSourceMayCallSeeUntilItIsDestroyed) {
  const std::string tar = make_tar({file("f", std::string(300000, 'x'))});
  const std::string blob = gzip_bytes(tar);
  descriptor layer;
  layer.media_type = layer_media_type(layer_compression::gzip);
  layer.digest = sha256_of(blob);
  layer.size = static_cast<std::int64_t>(blob.size());
  layer_stream::hooks with;
  with.decompressed_seen = [](std::unique_ptr<byte_source> s, std::function<void(byte_view)> see) {
    return std::unique_ptr<byte_source>(std::make_unique<sees_until_destroyed>(std::move(s), std::move(see)));
  };
  memory_source src(view_of(blob), 4096);
  auto s = layer_stream::open(src, layer, {}, digest_algorithm::sha256, with);
  ASSERT_TRUE(s) << s.error().message();
  auto c = (*s)->next();
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_FALSE(c->empty());
  s->reset();  // mid-stream: its source still sees from its destructor
}

}  // namespace
}  // namespace ocipipe::testing
