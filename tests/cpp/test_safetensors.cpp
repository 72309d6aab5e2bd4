#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "test_util.h"

namespace wedlm {
namespace {

using test::RawTensor;

Status parse(const std::vector<uint8_t>& bytes) {
  return parse_safetensors("t.safetensors", bytes.data(), bytes.size()).status();
}

std::vector<uint8_t> with_header(const std::string& header, size_t data_bytes) {
  std::string h = header;
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(uint64_t(h.size()) >> (8 * i)));
  for (char c : h) out.push_back(static_cast<uint8_t>(c));
  out.resize(out.size() + data_bytes, 0x11);
  return out;
}

void expect_error(const std::vector<uint8_t>& bytes, ErrorKind kind, const std::string& needle) {
  const Status s = parse(bytes);
  ASSERT_FALSE(s.is_ok()) << "accepted a bad file; expected: " << needle;
  EXPECT_EQ(s.kind(), kind) << s.to_string();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("t.safetensors"), std::string::npos) << "error must name the file";
}

TEST(Safetensors, ParsesAValidFileInPlace) {
  auto img = test::safetensors_image({{"a", "BF16", {2, 3}, {}}, {"b", "F32", {4}, {}}});
  auto ts = parse_safetensors("t", img.data(), img.size());
  ASSERT_TRUE(ts.is_ok()) << ts.status().to_string();
  ASSERT_EQ(ts.value().size(), 2u);
  const TensorInfo& a = ts.value()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::kBF16);
  EXPECT_EQ(a.shape_str(), "[2, 3]");
  EXPECT_EQ(a.nbytes, 12u);
  EXPECT_GE(a.data, img.data());  // a view, not a copy
  EXPECT_LT(a.data, img.data() + img.size());
  EXPECT_EQ(a.data[0], 1);  // the pattern's first byte
}

TEST(Safetensors, OpensAFileThroughMmap) {
  const std::string path = test::temp_dir() + "/m.safetensors";
  test::write_file(path, test::safetensors_image({{"w", "F16", {5}, {}}}));
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_NE(f.value()->find("w"), nullptr);
  EXPECT_EQ(f.value()->find("w")->numel(), 5);
  EXPECT_EQ(f.value()->find("nope"), nullptr);
  EXPECT_EQ(SafetensorsFile::open(path + ".missing").status().kind(), ErrorKind::kNotFound);
}

TEST(Safetensors, TruncatedOrShortFiles) {
  expect_error({1, 2, 3}, ErrorKind::kCorruptFile, "too short");
  auto img = test::safetensors_image({{"a", "F32", {64}, {}}});
  img.resize(img.size() - 10);
  expect_error(img, ErrorKind::kCorruptFile, "past the end of the data section");
}

TEST(Safetensors, HeaderLengthPastTheEnd) {
  auto img = test::safetensors_image({{"a", "F32", {4}, {}}});
  img[0] = 0xff;
  img[1] = 0xff;
  expect_error(img, ErrorKind::kCorruptFile, "header length");
}

TEST(Safetensors, BadJsonHeader) {
  expect_error(with_header("{\"a\": [1, 2", 0), ErrorKind::kCorruptFile, "bad JSON header");
  expect_error(with_header("[1, 2]", 0), ErrorKind::kCorruptFile, "not an object");
}

// A shape nested 100,000 deep overflowed the stack while the error message printed it.
TEST(Safetensors, DeeplyNestedHeadersAreRefusedBeforeTheyAreParsed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error(
      with_header(
          "{\"w\": {\"dtype\": \"F32\", \"shape\": " + deep + ", \"data_offsets\": [0, 4]}}", 4),
      ErrorKind::kCorruptFile, "nests more than 100 deep");
}

TEST(Safetensors, UnknownDtypeNamesTensorAndDtype) {
  expect_error(with_header(R"({"w": {"dtype": "I4", "shape": [2], "data_offsets": [0, 1]}})", 1),
               ErrorKind::kUnsupported, "'w': unknown dtype 'I4'");
}

TEST(Safetensors, BadShapesAndOffsets) {
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
               ErrorKind::kCorruptFile, "negative");
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8),
               ErrorKind::kCorruptFile, "needs 8");
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8),
               ErrorKind::kCorruptFile, "end before begin");
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 8),
               ErrorKind::kCorruptFile, "not [begin, end]");
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [2]}})", 8), ErrorKind::kCorruptFile,
               "needs dtype, shape and data_offsets");
}

TEST(Safetensors, OutOfRangeOverlappingAndMisalignedData) {
  expect_error(with_header(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 16),
               ErrorKind::kCorruptFile, "'w': data_offsets [8, 24] past the end");
  expect_error(with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                           R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                           16),
               ErrorKind::kCorruptFile, "overlap");
  expect_error(with_header(R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [1, 3]}})", 4),
               ErrorKind::kCorruptFile, "not aligned");
}

}  // namespace
}  // namespace wedlm
