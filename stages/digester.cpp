#include "stages/digester.h"

#include <openssl/evp.h>

namespace ocipipe {

struct digester::impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  digest_algorithm alg;
  ~impl() { EVP_MD_CTX_free(ctx); }
};

digester::digester(digest_algorithm algorithm) : impl_(std::make_unique<impl>()) {
  impl_->alg = algorithm == digest_algorithm::sha512 ? digest_algorithm::sha512
                                                     : digest_algorithm::sha256;
  EVP_DigestInit_ex(impl_->ctx, impl_->alg == digest_algorithm::sha512 ? EVP_sha512() : EVP_sha256(),
                    nullptr);
}
digester::~digester() = default;
digester::digester(digester&&) noexcept = default;
digester& digester::operator=(digester&&) noexcept = default;

void digester::update(byte_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size());
}

digest digester::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &n);
  return digest::from_bytes(impl_->alg, md, n);
}

digest digester::of(byte_view bytes, digest_algorithm algorithm) {
  digester d(algorithm);
  d.update(bytes);
  return d.finish();
}

}  // namespace ocipipe
