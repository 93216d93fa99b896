// stages/base64: RFC 4648 §4 standard base64, padded, as Go's
// base64.StdEncoding reads and writes it (the peers whose base64 we read).
#include <gtest/gtest.h>

#include <string>

#include "stages/base64.h"

namespace ocipipe {
namespace {

// RFC 4648 §10 test vectors.
TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648Vectors) {
  EXPECT_EQ(base64_decode(""), std::string());
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9v"), "foo");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const auto bytes = all.substr(0, n);
    const auto text = base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(base64_decode(text), bytes) << n;
  }
}

TEST(Base64, UsesTheStandardAlphabetNotUrlSafe) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf");
  EXPECT_FALSE(base64_decode("-_-_"));
}

TEST(Base64, RefusesLengthNotMultipleOfFour) {
  EXPECT_FALSE(base64_decode("Zg"));
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9vY"));
}

TEST(Base64, RefusesCharactersOutsideTheAlphabet) {
  EXPECT_FALSE(base64_decode("Zm9!"));
  EXPECT_FALSE(base64_decode("Zm9v\nYmFy"));
  EXPECT_FALSE(base64_decode("Zm9v YmFy"));
  EXPECT_FALSE(base64_decode(std::string("Zm\0v", 4)));
  EXPECT_FALSE(base64_decode("Zm9\xc3"));
}

TEST(Base64, RefusesMisplacedPadding) {
  EXPECT_FALSE(base64_decode("Z==="));      // one data character is not a byte
  EXPECT_FALSE(base64_decode("===="));
  EXPECT_FALSE(base64_decode("Zg==Zm9v"));  // padding before the last quantum
  EXPECT_FALSE(base64_decode("Zg=v"));      // data after padding
  EXPECT_FALSE(base64_decode("Zm9v===="));  // a quantum of padding alone
}

// Go's StdEncoding (not .Strict()) drops the bits past the last byte.
TEST(Base64, IgnoresBitsPastTheLastByteAsGoDoes) {
  EXPECT_EQ(base64_decode("Zh=="), "f");
  EXPECT_EQ(base64_decode("Zm9="), "fo");
}

}  // namespace
}  // namespace ocipipe
